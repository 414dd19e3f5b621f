/*
 * package_kind.c - the kind of each file in a package (ebpf.h, enum
 * ebpf_file_kind): by content first (ELF e_machine, PE signature), then by
 * mode, then by name.
 *
 * Security property: the bytes are untrusted. Only fixed offsets are read,
 * each after checking the file is long enough (a PE's e_lfanew is checked
 * against the size before it is followed); names are compared as ASCII,
 * independent of locale.
 */
#include "ebpf.h"
#include "ebpf_internal.h"

#include <stdbool.h>
#include <string.h>

#define EM_BPF_MACHINE 247            /* ELF e_machine of eBPF (EM_BPF) */

/* --- file kinds ---------------------------------------------------------- */

static const char *const kind_names[] = {
	[EBPF_KIND_BPF_ELF] = "bpf-elf",     [EBPF_KIND_NATIVE_SYS] = "native-sys",
	[EBPF_KIND_USER_EXE] = "user-exe",   [EBPF_KIND_DOC] = "doc",
	[EBPF_KIND_LICENSE] = "license",     [EBPF_KIND_CONFIG] = "config",
};

const char *ebpf_file_kind_name(enum ebpf_file_kind kind)
{
	if ((unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "unknown";
	return kind_names[kind];
}

static bool is_elf(const uint8_t *d, size_t n)
{
	return n >= 20 && memcmp(d, "\177ELF", 4) == 0;
}

/* e_machine sits at byte 18 in both ELF classes, in the byte order that
 * e_ident[EI_DATA] names (2 = big endian, as bpfeb objects are). */
static unsigned elf_machine(const uint8_t *d)
{
	return d[5] == 2 ? (unsigned)d[18] << 8 | d[19] : (unsigned)d[19] << 8 | d[18];
}

/* A PE image: "MZ", and e_lfanew (at 0x3c) pointing at "PE\0\0". */
static bool is_pe(const uint8_t *d, size_t n)
{
	uint32_t off;

	if (n < 0x40 || d[0] != 'M' || d[1] != 'Z')
		return false;
	off = (uint32_t)d[0x3c] | (uint32_t)d[0x3d] << 8 | (uint32_t)d[0x3e] << 16 |
	      (uint32_t)d[0x3f] << 24;
	return off <= n - 4 && memcmp(d + off, "PE\0\0", 4) == 0;
}

static bool prefix_ci(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++)
		if (*s == 0 || (*s | 0x20) != (*prefix | 0x20))
			return false;
	return true;
}

static bool suffix_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && prefix_ci(s + n - k, suffix);
}

/* Kind by content first, then by mode, then by name (ebpf.h). */
enum ebpf_file_kind ebpf_pkg_classify(const char *path, const uint8_t *d, size_t n,
				      unsigned mode)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (is_elf(d, n) && elf_machine(d) == EM_BPF_MACHINE)
		return EBPF_KIND_BPF_ELF;
	if (is_pe(d, n) || suffix_ci(base, ".sys"))
		return EBPF_KIND_NATIVE_SYS;
	if (is_elf(d, n) || (mode & 0111))
		return EBPF_KIND_USER_EXE;
	if (prefix_ci(base, "README") || suffix_ci(base, ".md") || strncmp(path, "docs/", 5) == 0)
		return EBPF_KIND_DOC;
	if (prefix_ci(base, "LICENSE") || prefix_ci(base, "COPYING"))
		return EBPF_KIND_LICENSE;
	return EBPF_KIND_CONFIG;
}
