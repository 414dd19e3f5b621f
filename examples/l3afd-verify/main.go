// Command l3afd-verify runs l3af-verify the way L3AF's agent (l3afd) would
// (docs/l3afd-integration.md): after a download or on a cache hit, check the
// artifact; extract it into a fresh root-owned directory; and just before
// loading each eBPF object or starting each user-space binary, re-check that
// file. Standard library only.
//
//	l3afd-verify -verify /usr/bin/l3af-verify -name N -version V -platform P \
//	    -artifact FILE (-bundle FILE | -log URL) -policy FILE [-node-policy FILE] \
//	    -state DIR -out DIR [-dev-allow-no-witnesses]
//
// Exit status: 0 every step allowed, 1 denied, 2 usage or error, 3 could not
// decide (l3afd keeps the old version running and retries later).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Verdict is the part of l3af-verify's JSON answer l3afd acts on.
type Verdict struct {
	Verdict string `json:"verdict"`
	Reasons []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"reasons"`
	EntryIndex *uint64 `json:"entry_index"`
	LogOrigin  string  `json:"log_origin"`
	TreeSize   *uint64 `json:"tree_size"`
	Files      []struct {
		Path   string `json:"path"`
		Kind   string `json:"kind"`
		Mode   string `json:"mode"`
		SHA256 string `json:"sha256"`
	} `json:"files"`
	Programs []struct {
		File        string `json:"file"`
		Name        string `json:"name"`
		ProgType    string `json:"prog_type"`
		InsnsSHA256 string `json:"insns_sha256"`
	} `json:"programs"`
}

// run executes l3af-verify and decodes its one JSON object. The exit code is
// the contract: 0 allow, 1 deny, 2 error, 3 undecided; the JSON says why.
func run(bin string, args ...string) (*Verdict, int, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		return nil, 2, err
	}
	var v Verdict
	if jerr := json.Unmarshal(stdout.Bytes(), &v); jerr != nil {
		return nil, 2, fmt.Errorf("l3af-verify printed no JSON (exit %d): %v; stderr: %s", code, jerr, stderr.String())
	}
	want := map[string]int{"allow": 0, "deny": 1}[v.Verdict]
	if v.Verdict == "error" {
		if code != 2 && code != 3 {
			return nil, 2, fmt.Errorf("verdict error with exit %d", code)
		}
	} else if code != want {
		return nil, 2, fmt.Errorf("verdict %s with exit %d", v.Verdict, code)
	}
	return &v, code, nil
}

func explain(step string, v *Verdict, code int) {
	fmt.Printf("%s: %s (exit %d)\n", step, v.Verdict, code)
	for _, r := range v.Reasons {
		fmt.Printf("  %s: %s\n", r.Code, r.Message)
	}
}

func main() {
	bin := flag.String("verify", "l3af-verify", "path of the l3af-verify binary")
	name := flag.String("name", "", "package name")
	version := flag.String("version", "", "package version")
	platform := flag.String("platform", "", "os/arch[/distro]")
	artifact := flag.String("artifact", "", "downloaded or cached artifact")
	file := flag.String("file", "", "artifact file name in the repository (default: base name of -artifact)")
	bundle := flag.String("bundle", "", "offline bundle")
	logURL := flag.String("log", "", "log URL (online)")
	policy := flag.String("policy", "", "trust policy (c2sp.org/tlog-policy)")
	nodePolicy := flag.String("node-policy", "", "node policy (JSON)")
	state := flag.String("state", "", "state directory")
	out := flag.String("out", "", "directory to extract into (must not exist)")
	dev := flag.Bool("dev-allow-no-witnesses", false, "development: accept quorum none")
	flag.Parse()
	if *name == "" || *version == "" || *platform == "" || *artifact == "" || *policy == "" || *state == "" || *out == "" || (*bundle == "") == (*logURL == "") {
		flag.Usage()
		os.Exit(2)
	}
	if *file == "" {
		*file = filepath.Base(*artifact)
	}
	args := []string{"--name", *name, "--version", *version, "--platform", *platform,
		"--file", *file, "--artifact", *artifact,
		"--policy", *policy, "--state", *state}
	if *bundle != "" {
		args = append(args, "--bundle", *bundle)
	} else {
		args = append(args, "--log", *logURL)
	}
	if *nodePolicy != "" {
		args = append(args, "--node-policy", *nodePolicy)
	}
	if *dev {
		args = append(args, "--dev-allow-no-witnesses")
	}

	// 1. On download and on every cache hit: check the bytes in hand.
	start := time.Now()
	v, code, err := run(*bin, append([]string{"check"}, args...)...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "l3afd-verify:", err)
		os.Exit(2)
	}
	explain("check", v, code)
	if code != 0 {
		os.Exit(code)
	}
	fmt.Printf("  entry %d of %s (tree %d), %d programs, in %v\n", *v.EntryIndex, v.LogOrigin, *v.TreeSize, len(v.Programs), time.Since(start).Round(time.Microsecond))

	// 2. Unpack: only what the verified manifest lists, from memory.
	v, code, err = run(*bin, append([]string{"extract"}, append(args, "--out", *out)...)...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "l3afd-verify:", err)
		os.Exit(2)
	}
	explain("extract", v, code)
	if code != 0 {
		os.Exit(code)
	}

	// 3. Just before loading each object or starting each binary.
	for _, f := range v.Files {
		if f.Kind != "bpf-elf" && f.Kind != "user-exe" {
			continue
		}
		fv, fcode, err := run(*bin, "file", "--dir", *out, "--path", f.Path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "l3afd-verify:", err)
			os.Exit(2)
		}
		explain("file "+f.Path, fv, fcode)
		if fcode != 0 {
			os.Exit(fcode)
		}
		if f.Kind == "bpf-elf" {
			fmt.Printf("  would load %s with cilium/ebpf\n", filepath.Join(*out, f.Path))
		} else {
			fmt.Printf("  would start %s\n", filepath.Join(*out, f.Path))
		}
	}
	for _, p := range v.Programs {
		fmt.Printf("  program %s/%s %s insns sha256 %s\n", p.File, p.Name, p.ProgType, p.InsnsSHA256)
	}
}
