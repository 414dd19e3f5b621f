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
#define EM_NONE_MACHINE 0             /* ELF e_machine "none", which libbpf opens */
#define ET_REL_TYPE 1                 /* ELF e_type of a relocatable object */
#define PE_SUBSYSTEM_NATIVE 1         /* IMAGE_SUBSYSTEM_NATIVE: drivers */
/* From "PE\0\0": the COFF header (20 bytes) then the optional header,
 * whose Subsystem field is at byte 68 in both PE32 and PE32+. */
#define PE_OPT_SIZE_AT 16             /* COFF SizeOfOptionalHeader */
#define PE_SUBSYSTEM_AT (4 + 20 + 68)

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

/* A 16-bit ELF header field at byte at, in the byte order that
 * e_ident[EI_DATA] names (2 = big endian, as bpfeb objects are). */
static unsigned elf_u16(const uint8_t *d, size_t at)
{
	return d[5] == 2 ? (unsigned)d[at] << 8 | d[at + 1] : (unsigned)d[at + 1] << 8 | d[at];
}

/* What libbpf would open as an eBPF object (libbpf 1.1 bpf_object__elf_init:
 * ET_REL with e_machine EM_BPF or EM_NONE), or any other EM_BPF ELF: the
 * inspector then sees it, and refuses what it must (EM_NONE, not ET_REL).
 * e_type sits at byte 16, e_machine at 18, in both ELF classes. */
static bool is_bpf_elf(const uint8_t *d, size_t n)
{
	unsigned machine;

	if (!is_elf(d, n))
		return false;
	machine = elf_u16(d, 18);
	return machine == EM_BPF_MACHINE ||
	       (machine == EM_NONE_MACHINE && elf_u16(d, 16) == ET_REL_TYPE);
}

static uint32_t le32(const uint8_t *d)
{
	return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 |
	       (uint32_t)d[3] << 24;
}

/* A PE image: "MZ", and e_lfanew (at 0x3c) pointing at "PE\0\0"; *off
 * receives e_lfanew. */
static bool is_pe(const uint8_t *d, size_t n, uint32_t *off)
{
	if (n < 0x40 || d[0] != 'M' || d[1] != 'Z')
		return false;
	*off = le32(d + 0x3c);
	return *off <= n - 4 && memcmp(d + *off, "PE\0\0", 4) == 0;
}

/* A PE image whose optional header says Subsystem NATIVE (a driver, what
 * Windows loads as a .sys). Any other PE image (console, GUI, EFI, no or
 * a short optional header) is a user-mode program. */
static bool pe_native(const uint8_t *d, size_t n, uint32_t off)
{
	if ((uint64_t)off + PE_SUBSYSTEM_AT + 2 > n)
		return false;
	if (((unsigned)d[off + 4 + PE_OPT_SIZE_AT] | (unsigned)d[off + 4 + PE_OPT_SIZE_AT + 1] << 8) <
	    68 + 2)
		return false;
	return ((unsigned)d[off + PE_SUBSYSTEM_AT] | (unsigned)d[off + PE_SUBSYSTEM_AT + 1] << 8) ==
	       PE_SUBSYSTEM_NATIVE;
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
	uint32_t pe_off = 0;
	bool pe = is_pe(d, n, &pe_off);

	base = base ? base + 1 : path;
	if (is_bpf_elf(d, n))
		return EBPF_KIND_BPF_ELF;
	/* The content decides, never the name alone: a PE image is native-sys
	 * only with Subsystem NATIVE, whatever it is called (a user-mode
	 * program named x.sys is user-exe); a text file named x.sys is config. */
	if (pe && pe_native(d, n, pe_off))
		return EBPF_KIND_NATIVE_SYS;
	if (pe || is_elf(d, n) || (mode & 0111))
		return EBPF_KIND_USER_EXE;
	if (prefix_ci(base, "README") || suffix_ci(base, ".md") || strncmp(path, "docs/", 5) == 0)
		return EBPF_KIND_DOC;
	if (prefix_ci(base, "LICENSE") || prefix_ci(base, "COPYING"))
		return EBPF_KIND_LICENSE;
	return EBPF_KIND_CONFIG;
}
