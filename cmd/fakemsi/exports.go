package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/tenantbridge/tenantbridge/emulator"
)

// writeExports prints the block as POSIX shell `export` lines, so that
// `eval "$(fakemsi serve ...)"` works; values are single-quoted.
func writeExports(w io.Writer, env emulator.Env) error {
	var sb strings.Builder
	for _, v := range env {
		fmt.Fprintf(&sb, "export %s=%s\n", v.Name, shellQuote(v.Value))
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// shellQuote single-quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
