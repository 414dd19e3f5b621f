/*
 * fuzz_elf.c - BPF ELF inspection (bpf/inspect.c) on arbitrary bytes, then
 * the JSON form and a policy check of whatever was accepted. Property: no
 * crash, no leak, no sanitizer report; libbpf's messages stay silent.
 * Seeds in corpus/elf/ are objects built from tests/bpf/progs/, plus
 * regress-* inputs that once crashed libbpf 1.1 through us.
 */
#include <stdlib.h>

#include "ebpf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ebpf_object *obj = NULL;
	struct ebpf_policy *policy = NULL;
	char *json = NULL;
	size_t n = 0;

	if (ebpf_inspect(data, size, "fuzz.o", &obj, NULL) != L3AF_OK)
		return 0;
	if (ebpf_object_to_json(obj, &json, NULL) != L3AF_OK)
		abort(); /* every accepted object must render */
	policy = ebpf_policy_default();
	if (policy) {
		const struct ebpf_object *objs[] = {obj};
		const struct ebpf_pkg_facts facts = {.has_doc = true, .has_license = true};
		n = ebpf_policy_check(policy, objs, 1, &facts, NULL, NULL);
	}
	ebpf_policy_free(policy);
	l3af_free(json);
	ebpf_object_free(obj);
	return n > (size_t)-1; /* always 0 */
}
