package dashboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// liveURL is the stream a page of t follows, starting after the tenant's
// newest event: called before the page reads its data, so nothing that
// changes a row after the read is missed. "" when pages are not live.
func (d *Dashboard) liveURL(ctx context.Context, t tenancy.Tenant) string {
	if d.opts.Bus == nil {
		return ""
	}
	last, err := d.opts.Events.LastID(tenancy.WithTenant(ctx, t.ID))
	if err != nil {
		return ""
	}
	return "/dashboard/t/" + t.Slug + "/live?after=" + strconv.FormatInt(last, 10)
}

// heartbeat keeps idle streams (and the load balancers between) open.
const heartbeat = 20 * time.Second

// live streams a tenant's device changes to an open page as server-sent
// events: each names the row it replaces (device-{id}) and carries its new
// HTML, which htmx's SSE extension swaps in. A reconnecting browser sends
// Last-Event-ID and misses nothing; the first connection starts at the
// event the page was rendered after.
func (d *Dashboard) live(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Viewer)
	if !ok {
		return
	}
	if d.opts.Bus == nil {
		http.Error(w, "live updates are off", http.StatusNotFound)
		return
	}
	after, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	if err != nil {
		after, _ = strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	}
	ctx := tenancy.WithTenant(r.Context(), t.ID)
	sub, err := d.opts.Bus.Subscribe(ctx, max(after, 0))
	if err != nil {
		d.log.ErrorContext(ctx, "dashboard live", "tenant", t.ID, "err", err)
		http.Error(w, "live updates are unavailable", http.StatusServiceUnavailable)
		return
	}
	defer sub.Close()
	rc := http.NewResponseController(w) // through wrappers (request logging) to the connection
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": connected\n\n")
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fmt.Fprint(w, ": ping\n\n")
		case ev, ok := <-sub.C():
			if !ok {
				if err := sub.Err(); err != nil && !errors.Is(err, context.Canceled) {
					d.log.InfoContext(ctx, "dashboard live stream ended", "err", err)
				}
				return
			}
			id, err := uuid.Parse(ev.Subject)
			var row, name string
			switch {
			case err != nil:
			case strings.HasPrefix(ev.Kind, "device."):
				name = "device-" + id.String()
				row, err = d.row(ctx, t.Slug, id)
			case strings.HasPrefix(ev.Kind, "command."):
				name = "command-" + id.String()
				row, err = d.commandRow(ctx, id)
			}
			if name == "" || err != nil {
				if err != nil {
					d.log.InfoContext(ctx, "dashboard live: row", "event", ev.ID, "err", err)
				}
				// Still move the browser's Last-Event-ID on.
				fmt.Fprintf(w, "id: %d\nevent: other\ndata: \n\n", ev.ID)
				break
			}
			fmt.Fprintf(w, "id: %d\nevent: %s\n", ev.ID, name)
			for _, line := range strings.Split(row, "\n") {
				fmt.Fprintf(w, "data: %s\n", line)
			}
			fmt.Fprint(w, "\n")
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// row renders one device's table cells as they are now.
func (d *Dashboard) row(ctx context.Context, slug string, id uuid.UUID) (string, error) {
	var dev inventory.Device
	// The writer: the event was committed there, a replica may lag.
	err := d.db.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		dev, err = d.inv.Get(ctx, tx, id)
		return err
	})
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	err = pages.ExecuteTemplate(&b, "device-cells", deviceRow{Slug: slug, Device: dev})
	return b.String(), err
}
