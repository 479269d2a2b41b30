// Package csvcell keeps what Trident writes into CSV files safe to open
// in a spreadsheet.
package csvcell

import "strings"

// Safe keeps a cell a spreadsheet would read as a formula (=, +, -, @, or
// a tab or carriage return first) as text, with a quote before it:
// devices name themselves, and people type what they like, so a cell is
// never trusted to be data.
func Safe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Row is Safe of every cell of row, in place.
func Row(row []string) []string {
	for i, c := range row {
		row[i] = Safe(c)
	}
	return row
}
