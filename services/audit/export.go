package audit

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/csvcell"
	"github.com/tridentmdm/trident/internal/fault"
)

// Export formats.
const (
	CSV        = "csv"
	JSONLines  = "jsonl"
	exportPage = 1000
)

// Export writes the tenant's entries that f keeps (its Before and Limit
// aside), oldest first, to w as JSON Lines (an entry a line, as List has
// them) or CSV (a header, then an entry a row, each cell safe to open in
// a spreadsheet, details as JSON): for a SIEM or an auditor. It reads a
// page at a time in id order (entries recorded meanwhile come at the
// end), so an export of any size holds a page in memory.
func (s *Store) Export(ctx context.Context, f Filter, format string, w io.Writer) error {
	var write func(Entry) error
	var flush func() error
	switch format {
	case JSONLines:
		enc := json.NewEncoder(w)
		write, flush = func(e Entry) error { return enc.Encode(e) }, func() error { return nil }
	case CSV:
		cw := csv.NewWriter(w)
		if err := cw.Write([]string{"id", "at", "actor", "actor_name", "action", "target", "request_id", "status", "details", "access", "grant_id"}); err != nil {
			return err
		}
		write = func(e Entry) error {
			return cw.Write(csvcell.Row([]string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.ActorName,
				e.Action, e.Target, e.RequestID, strconv.Itoa(e.Status), string(e.Details), e.Access, grantCell(e.Grant)}))
		}
		flush = func() error { cw.Flush(); return cw.Error() }
	default:
		return fault.InvalidField("format", fmt.Sprintf("%q is not csv or jsonl", format))
	}
	err := s.db.ReadTx(ctx, func(tx pgx.Tx) error {
		var after int64
		for {
			rows, _ := tx.Query(ctx, `SELECT `+entryCols+` FROM audit_log WHERE id > $1 AND `+filterSQL+`
ORDER BY id LIMIT $8`, append([]any{after}, append(f.args(), exportPage)...)...)
			page, err := pgx.CollectRows(rows, scanEntry)
			if err != nil {
				return err
			}
			for _, e := range page {
				if err := write(e); err != nil {
					return err
				}
			}
			if len(page) < exportPage {
				return nil
			}
			after = page[len(page)-1].ID
		}
	})
	if err != nil {
		return fmt.Errorf("audit: export: %w", err)
	}
	return flush()
}

func grantCell(id *uuid.UUID) string {
	if id == nil {
		return ""
	}
	return id.String()
}
