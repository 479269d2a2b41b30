package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/inventory"
)

// Deployment is a command each enrolled device of a platform carries out
// once: a baseline's Apple profile or Windows settings. Its commands are
// told apart by Tag (their created_by), which names the item and its
// content: a new version is a new tag, and goes to every device again;
// what counts for a device is its newest command of the item.
type Deployment struct {
	Tag      string // "baseline:<baseline>:<item>:<content>"
	Kind     string
	Payload  map[string]any
	Platform inventory.Platform
	// Group, when set, is the only group whose devices get it; Except
	// are groups whose devices do not (a ring of device groups has its
	// own version).
	Group  uuid.UUID
	Except []uuid.UUID
	// Undo takes the item off the devices it reached (an Apple profile
	// removed): it goes only to them.
	Undo bool
}

// Rollout is where a deployment stands in a tenant, device by device (each
// device by its newest command of the deployment).
type Rollout struct {
	Devices int `json:"devices"` // enrolled devices of its platform
	Done    int `json:"done"`    // acknowledged
	Waiting int `json:"waiting"` // queued, sent, or the device said not now
	Failed  int `json:"failed"`  // ended in error, or an admin canceled it: not queued again
	Missing int `json:"missing"` // not queued yet (a device new to it, or whose command expired)
	Queued  int `json:"queued"`  // of the waiting, queued by this call
}

// DeployBatch bounds the commands one DeployTx queues.
const DeployBatch = 500

// DeployTx queues d's command, in tx, for the enrolled devices of its
// platform whose newest command of d's item is not this content's (none
// yet, an older content, a removal, or this one expired: the device never
// came), at most DeployBatch of them, and says where it stands; more
// reports devices still to queue (call again). A device whose command of
// this content failed or was canceled is not queued again: it counts as
// failed until the content changes. An Undo goes only to the devices the
// item's content reached (or is on its way to). With queue false it only
// counts (those it would queue are Missing).
func (q *Queue) DeployTx(ctx context.Context, tx pgx.Tx, d Deployment, queue bool) (r Rollout, more bool, err error) {
	k, ok := kinds[d.Kind]
	cut := strings.LastIndex(d.Tag, ":")
	if !ok || !strings.HasPrefix(d.Tag, "baseline:") || cut < 0 {
		return r, false, fault.InvalidField("kind", fmt.Sprintf("%q (tag %q) is not a deployment", d.Kind, d.Tag))
	}
	if !slices.Contains(k.Platforms, d.Platform) {
		return r, false, fault.InvalidField("kind", fmt.Sprintf("%s devices do not support %s", d.Platform, d.Kind))
	}
	latest, err := q.latestOfItem(ctx, tx, d.Tag[:cut+1])
	if err != nil {
		return r, false, err
	}
	devices, err := q.inv.SelectTx(ctx, tx, inventory.Selection{Platform: d.Platform, Enrolled: true, Group: d.Group, ExceptGroups: d.Except})
	if err != nil {
		return r, false, err
	}
	for _, dev := range devices {
		l, has := latest[dev.ID]
		mine := has && l.tag == d.Tag
		if d.Undo && !mine && (!has || (l.status != Acknowledged && !l.status.Open())) {
			continue // the item never reached it: nothing to undo
		}
		r.Devices++
		switch {
		case mine && l.status == Acknowledged:
			r.Done++
		case mine && l.status.Open():
			r.Waiting++
		case mine && (l.status == Error || l.status == Canceled):
			r.Failed++
		case !queue:
			r.Missing++
		case r.Queued == DeployBatch:
			r.Missing++
			more = true
		default: // none yet, another content, or this one expired
			if has && !mine && l.status.Open() {
				// Another content of the item still waits: it would only be
				// undone by this one, so it is canceled rather than sent.
				if err := q.supersedeTx(ctx, tx, dev.ID, d.Tag[:cut+1], d.Tag); err != nil {
					return r, false, err
				}
			}
			_, err := q.EnqueueTx(ctx, tx, NewCommand{DeviceID: dev.ID, Kind: d.Kind, Payload: d.Payload, CreatedBy: d.Tag})
			switch {
			case fault.Is(err, fault.Invalid), errors.Is(err, ErrState):
				r.Failed++ // this device cannot take it
			case err != nil:
				return r, false, err
			default:
				r.Queued++
				r.Waiting++
			}
		}
	}
	return r, more, nil
}

// supersedeTx cancels the device's commands of an item (tagged prefix)
// of another content than tag that have not been sent yet.
func (q *Queue) supersedeTx(ctx context.Context, tx pgx.Tx, device uuid.UUID, prefix, tag string) error {
	rows, _ := tx.Query(ctx, `SELECT id FROM commands WHERE device_id = $1 AND created_by LIKE 'baseline:%'
  AND starts_with(created_by, $2) AND created_by <> $3 AND status IN ('queued', 'not_now')`, device, prefix, tag)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fmt.Errorf("commands: superseded: %w", err)
	}
	for _, id := range ids {
		if _, err := q.cancelTx(ctx, tx, id); err != nil && !errors.Is(err, ErrState) {
			return err
		}
	}
	return nil
}

// tagged is a device's newest command of a deployed item.
type tagged struct {
	tag    string
	status Status
}

// latestOfItem is each device's newest command tagged with prefix (an
// item's, whatever its content).
func (q *Queue) latestOfItem(ctx context.Context, tx pgx.Tx, prefix string) (map[uuid.UUID]tagged, error) {
	rows, _ := tx.Query(ctx, `SELECT DISTINCT ON (device_id) device_id, created_by, status FROM commands
WHERE created_by LIKE 'baseline:%' AND starts_with(created_by, $1) ORDER BY device_id, created_at DESC, id DESC`, prefix)
	out := map[uuid.UUID]tagged{}
	var id uuid.UUID
	var t tagged
	if _, err := pgx.ForEachRow(rows, []any{&id, &t.tag, &t.status}, func() error { out[id] = t; return nil }); err != nil {
		return nil, fmt.Errorf("commands: deployment %s: %w", prefix, err)
	}
	return out, nil
}

// DeployedItems are the items (their tag up to the content, "baseline:
// <baseline>:<item>:") whose commands of kind reached, or are on their
// way to, some device of the tenant.
func (q *Queue) DeployedItems(ctx context.Context, tx pgx.Tx, kind string) ([]string, error) {
	rows, _ := tx.Query(ctx, `SELECT DISTINCT substring(created_by FROM '^baseline:[^:]+:[^:]+:') FROM commands
WHERE created_by LIKE 'baseline:%' AND kind = $1 AND status IN ('acknowledged', 'queued', 'sent', 'not_now') ORDER BY 1`, kind)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("commands: deployed items: %w", err)
	}
	return out, nil
}

// Check says whether a command of kind with payload is one the platform
// takes, without queuing it: for what is checked long before it is sent
// (a baseline's item). Platforms without a checker check when it is
// queued.
func (q *Queue) Check(p inventory.Platform, kind string, payload map[string]any) error {
	k, ok := kinds[kind]
	if !ok {
		return fault.InvalidField("kind", fmt.Sprintf("%q is not a command kind", kind))
	}
	if !slices.Contains(k.Platforms, p) {
		return fault.InvalidField("kind", fmt.Sprintf("%s devices do not support %s", p, kind))
	}
	chk := q.checkTo[p]
	if chk == nil {
		return nil
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return fault.InvalidField("payload", err.Error())
	}
	return chk.Check(inventory.Device{Platform: p}, Command{Kind: kind, Payload: body})
}
