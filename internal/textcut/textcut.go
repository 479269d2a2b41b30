// Package textcut bounds text that goes into a column of limited length:
// at most n bytes, cut at a character boundary, never an invalid UTF-8
// tail.
package textcut

import "unicode/utf8"

// Prefix is s cut to at most n bytes, at a character boundary.
func Prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
