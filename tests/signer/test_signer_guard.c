/*
 * test_signer_guard.c - the secret key is no-access between signatures.
 *
 * This test compiles signer/key.c into itself (as curl's unit tests reach
 * library internals) so that it can point at the guarded page: a forked child
 * reads it and must die of SIGSEGV, before and after signing, and the user
 * count must be back to zero.
 */
#include "key.c"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

#define READ_FAULTED 42

static void on_segv(int sig)
{
	(void)sig;
	_exit(READ_FAULTED);
}

/* 1 if reading key's secret from a child process faults. */
static int secret_faults(const struct signer_key *key)
{
	struct sigaction sa;
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_segv;
		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
		_exit(*(volatile const uint8_t *)key->secret->sk == 0xa5 ? 1 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == READ_FAULTED;
}

static void test_secret_no_access(void **state)
{
	static const uint8_t seed[32] = { 0x11 };
	struct signer_key *key = NULL;
	uint8_t sig[SIGNER_SIG_BYTES];

	(void)state;
	assert_int_equal(signer_key_from_seed("guard.example", 0x01, seed, &key,
					      NULL), L3AF_OK);
	assert_true(secret_faults(key));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(signer_key_sign_raw(key, (const uint8_t *)"m", 1,
						     sig, NULL), L3AF_OK);
		assert_int_equal(key->secret->users, 0);
		assert_true(secret_faults(key));
	}
	signer_key_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_no_access),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
