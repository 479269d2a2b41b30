package android

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	am "google.golang.org/api/androidmanagement/v1"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/inventory"
)

// Dispatcher checks Android commands as they are queued; nothing is sent
// in the queuing transaction (the delivery job's Wake sends it).
type Dispatcher struct{}

var _ commands.Checker = Dispatcher{}

// Check implements commands.Checker.
func (Dispatcher) Check(d inventory.Device, c commands.Command) error {
	switch c.Kind {
	case "device_information", "lock", "restart", "erase":
		return nil
	case "clear_passcode":
		var p struct {
			NewPassword string `json:"new_password"`
		}
		_ = json.Unmarshal(c.Payload, &p)
		if len(p.NewPassword) > 64 {
			return fault.InvalidField("payload.new_password", "at most 64 characters")
		}
		return nil
	}
	return fault.InvalidField("kind", fmt.Sprintf("Android devices do not support %s", c.Kind))
}

// Waker sends an Android device's queued commands through the Android
// Management API when the delivery job wakes it, and looks up operations
// whose COMMAND notification has not come.
type Waker struct{ S *Service }

var _ commands.Waker = Waker{}

// Wake implements commands.Waker.
func (w Waker) Wake(ctx context.Context, d inventory.Device) error {
	s := w.S
	for range 50 {
		var c *commands.Command
		err := s.db.Tx(ctx, func(tx pgx.Tx) (err error) { c, err = s.cmds.NextTx(ctx, tx, d.ID); return err })
		if err != nil {
			return err
		}
		if c == nil {
			break
		}
		later, err := s.send(ctx, d, *c)
		if err != nil {
			return err
		}
		if later {
			// Google is out of quota or failing: the rest waits for the
			// next wake rather than meeting the same answer now.
			return nil
		}
	}
	return s.poll(ctx, d)
}

// send makes the call for one command, already marked sent. A refusal
// ends the command in error; a failure worth retrying (quota, Google's
// 5xx, the network) puts it back as NotNow, and later says so.
func (s *Service) send(ctx context.Context, d inventory.Device, c commands.Command) (later bool, _ error) {
	var opName string
	var result any
	var err error
	switch c.Kind {
	case "device_information":
		var dev *am.Device
		if dev, err = s.am.Enterprises.Devices.Get(d.Identifier).Context(ctx).Do(); err == nil {
			result = map[string]any{"state": dev.State, "policy_compliant": dev.PolicyCompliant}
			err = s.db.Tx(ctx, func(tx pgx.Tx) error { return s.record(ctx, tx, dev) })
		}
	case "erase":
		_, err = s.am.Enterprises.Devices.Delete(d.Identifier).WipeDataFlags("WIPE_EXTERNAL_STORAGE").Context(ctx).Do()
		result = map[string]any{"deleted": d.Identifier}
	default:
		cmd := &am.Command{Type: map[string]string{"lock": "LOCK", "restart": "REBOOT", "clear_passcode": "RESET_PASSWORD"}[c.Kind]}
		if c.Kind == "clear_passcode" {
			var p struct {
				NewPassword string `json:"new_password"`
			}
			_ = json.Unmarshal(c.Payload, &p)
			cmd.NewPassword = p.NewPassword
			cmd.ResetPasswordFlags = []string{"REQUIRE_ENTRY"}
		}
		var op *am.Operation
		if op, err = s.am.Enterprises.Devices.IssueCommand(d.Identifier, cmd).Context(ctx).Do(); err == nil {
			opName = op.Name
		}
	}
	err = s.db.Tx(ctx, func(tx pgx.Tx) error {
		var ge *GoogleError
		switch gerr := google(err); {
		case err == nil && opName != "":
			_, err := tx.Exec(ctx, `INSERT INTO android_operations (name, command_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, opName, c.ID)
			return err
		case err == nil:
			if c.Kind == "erase" {
				if _, err := s.inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Android, Identifier: d.Identifier,
					Status: inventory.Unenrolled}); err != nil {
					return err
				}
			}
			_, err := s.cmds.CompleteTx(ctx, tx, c.DeviceID, c.ID, commands.Outcome{Status: commands.Acknowledged, Result: result})
			return err
		case errors.As(gerr, &ge) && !ge.Retryable():
			_, err := s.cmds.CompleteTx(ctx, tx, c.DeviceID, c.ID, commands.Outcome{Status: commands.Error, Error: ge.Error()})
			return err
		default:
			later = true
			if IsQuota(gerr) {
				if err := noteQuotaTx(ctx, tx); err != nil {
					return err
				}
			}
			_, err := s.cmds.CompleteTx(ctx, tx, c.DeviceID, c.ID, commands.Outcome{Status: commands.NotNow, Error: "sending failed, retrying: " + gerr.Error()})
			return err
		}
	})
	return later, err
}

// poll asks Google for the operations of the device's sent commands
// that have waited a minute for their notification.
func (s *Service) poll(ctx context.Context, d inventory.Device) error {
	var names []string
	err := s.db.ReadTx(ctx, func(tx pgx.Tx) error {
		sent, err := s.cmds.AwaitingTx(ctx, tx, d.ID)
		if err != nil || len(sent) == 0 {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT name FROM android_operations
WHERE command_id = ANY($1) AND created_at < now() - $2::interval`, sent, time.Minute.String())
		if err != nil {
			return err
		}
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return err
	}
	for _, n := range names {
		op, err := s.am.Enterprises.Devices.Operations.Get(n).Context(ctx).Do()
		if err != nil {
			return google(err)
		}
		if err := s.db.Tx(ctx, func(tx pgx.Tx) error { return s.finish(ctx, tx, op) }); err != nil {
			return err
		}
	}
	return nil
}
