// verify_log is an independent client of an l3af-tlog log that knows only
// the public specs: it reads the checkpoint (c2sp.org/tlog-checkpoint) and
// verifies its signed note with Go's golang.org/x/mod/sumdb/note, reads every
// entry bundle and every tile (c2sp.org/tlog-tiles), and recomputes the tree
// with golang.org/x/mod/sumdb/tlog (RFC 6962 hashing). It shares no code with
// l3af-tlog.
//
//	usage: verify_log BASE VKEY
//
// BASE is an http:// URL prefix or a directory written by l3af-tlog export.
// Exit 0 and one summary line if every entry, tile and the root verify.
package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fetch(base, path string) []byte {
	var data []byte
	var err error
	if strings.HasPrefix(base, "http://") {
		var resp *http.Response
		resp, err = http.Get(base + "/" + path)
		if err == nil {
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				fail("GET %s: status %d", path, resp.StatusCode)
			}
			data, err = io.ReadAll(resp.Body)
		}
	} else {
		data, err = os.ReadFile(filepath.Join(base, path))
	}
	if err != nil {
		fail("read %s: %v", path, err)
	}
	return data
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "verify_log: "+format+"\n", args...)
	os.Exit(1)
}

// tilePath is c2sp.org/tlog-tiles: N in 3-digit groups, all but the last
// prefixed with x; a partial tile has .p/W.
func tilePath(level string, n int64, w int) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n /= 1000; n > 0; n /= 1000 {
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	p := "tile/" + level + "/" + s
	if w < 256 {
		p += fmt.Sprintf(".p/%d", w)
	}
	return p
}

// width of tile n at level l (height 8) in a tree of size.
func width(l int, n, size int64) int {
	at := size >> (8 * uint(l))
	if at <= n*256 {
		return 0
	}
	if at-n*256 >= 256 {
		return 256
	}
	return int(at - n*256)
}

func main() {
	if len(os.Args) != 3 {
		fail("usage: verify_log BASE VKEY")
	}
	base, vkey := strings.TrimRight(os.Args[1], "/"), strings.TrimSpace(os.Args[2])
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail("verifier key: %v", err)
	}
	n, err := note.Open(fetch(base, "checkpoint"), note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint note: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		fail("checkpoint body has %d lines", len(lines))
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || strconv.FormatInt(size, 10) != lines[1] {
		fail("checkpoint size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		fail("checkpoint root %q", lines[2])
	}

	// Every entry, from the bundles: uint16 big-endian length || entry.
	stored := []tlog.Hash{}
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	leaves := make([]tlog.Hash, 0, size)
	for t := int64(0); t*256 < size; t++ {
		b := fetch(base, tilePath("entries", t, width(0, t, size)))
		for len(b) > 0 {
			if len(b) < 2 || len(b) < 2+int(b[0])<<8|int(b[1]) {
				fail("bundle %d truncated", t)
			}
			l := int(b[0])<<8 | int(b[1])
			rec := b[2 : 2+l]
			hashes, err := tlog.StoredHashes(int64(len(leaves)), rec, reader)
			if err != nil {
				fail("stored hashes: %v", err)
			}
			stored = append(stored, hashes...)
			leaves = append(leaves, tlog.RecordHash(rec))
			b = b[2+l:]
		}
	}
	if int64(len(leaves)) != size {
		fail("bundles hold %d entries, checkpoint says %d", len(leaves), size)
	}
	got, err := tlog.TreeHash(size, reader)
	if err != nil || !bytes.Equal(got[:], root) {
		fail("root recomputed from the entries differs from the checkpoint's")
	}

	// Every tile at every level: hash i of tile n at level l is the stored
	// hash of the subtree of height 8l at index 256n+i.
	tiles := 0
	for l := 0; width(l, 0, size) > 0; l++ {
		for t := int64(0); width(l, t, size) > 0; t++ {
			w := width(l, t, size)
			b := fetch(base, tilePath(strconv.Itoa(l), t, w))
			if len(b) != 32*w {
				fail("tile %d/%d: %d bytes for width %d", l, t, len(b), w)
			}
			for i := 0; i < w; i++ {
				h := stored[tlog.StoredHashIndex(8*l, t*256+int64(i))]
				if !bytes.Equal(b[32*i:32*i+32], h[:]) {
					fail("tile %d/%d hash %d differs", l, t, i)
				}
			}
			tiles++
		}
	}
	fmt.Printf("verify_log: %s: origin %s, %d entries, %d tiles, root and signature verify\n",
		base, lines[0], size, tiles)
}
