package android

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	am "google.golang.org/api/androidmanagement/v1"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// PushMessage is a Pub/Sub push request's body.
type PushMessage struct {
	Message struct {
		Data        string            `json:"data"`
		Attributes  map[string]string `json:"attributes"`
		MessageID   string            `json:"messageId"`
		PublishTime string            `json:"publishTime"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// Errors of notifications.
var (
	ErrBadNotification = errors.New("not an Android Management API notification")
	ErrForeign         = errors.New("the notification is about another tenant's enterprise")
)

// ParsePush reads a Pub/Sub push body: its message id, notification type
// and the resource JSON.
func ParsePush(body []byte) (id, kind string, data []byte, err error) {
	var m PushMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return "", "", nil, fmt.Errorf("%w: %v", ErrBadNotification, err)
	}
	id, kind = m.Message.MessageID, m.Message.Attributes["notificationType"]
	if id == "" || len(id) > 200 || kind == "" || len(kind) > 50 {
		return "", "", nil, fmt.Errorf("%w: it lacks a messageId or notificationType", ErrBadNotification)
	}
	if data, err = base64.StdEncoding.DecodeString(m.Message.Data); err != nil {
		return "", "", nil, fmt.Errorf("%w: data is not base64", ErrBadNotification)
	}
	if kind != "test" && !json.Valid(data) {
		return "", "", nil, fmt.Errorf("%w: data is not JSON", ErrBadNotification)
	}
	return id, kind, data, nil
}

// Notify handles a Pub/Sub push for the tenant in ctx, once per message
// id: redeliveries are acknowledged without effect, and reports older
// than what the device last told are not applied. Every notification
// becomes an event (android.enrollment, android.status_report,
// android.command, android.usage_logs).
func (s *Service) Notify(ctx context.Context, body []byte) error {
	id, kind, data, err := ParsePush(body)
	if err != nil {
		return err
	}
	if kind == "test" {
		return nil // Google's test notification when the topic is set
	}
	return s.db.Tx(ctx, func(tx pgx.Tx) error {
		ent, err := s.bound(ctx, tx)
		if err != nil {
			return ErrForeign
		}
		tag, err := tx.Exec(ctx, `INSERT INTO android_notifications (message_id, kind) VALUES ($1, $2) ON CONFLICT DO NOTHING`, id, kind)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil // delivered before
		}
		var subject string
		switch kind {
		case "ENROLLMENT", "STATUS_REPORT":
			var d am.Device
			if err := json.Unmarshal(data, &d); err != nil || d.Name == "" {
				return fmt.Errorf("%w: not a device", ErrBadNotification)
			}
			if !under(d.Name, ent) {
				return ErrForeign
			}
			subject = d.Name
			if err := s.record(ctx, tx, &d); err != nil {
				return err
			}
		case "COMMAND":
			var op am.Operation
			if err := json.Unmarshal(data, &op); err != nil || op.Name == "" {
				return fmt.Errorf("%w: not an operation", ErrBadNotification)
			}
			if !under(op.Name, ent) {
				return ErrForeign
			}
			subject = op.Name
			if err := s.finish(ctx, tx, &op); err != nil {
				return err
			}
		case "USAGE_LOGS":
			var u struct {
				Device string `json:"device"`
			}
			json.Unmarshal(data, &u)
			if u.Device != "" && !under(u.Device, ent) {
				return ErrForeign
			}
			subject = u.Device
		default:
			return fmt.Errorf("%w: unknown notificationType %q", ErrBadNotification, kind)
		}
		_, err = s.pub.Publish(ctx, tx, NotificationKind(kind), subject,
			PubSubNotification{MessageID: id, Resource: json.RawMessage(data)})
		return err
	})
}

// status maps a device's AMAPI state to the inventory's.
func status(state string) inventory.Status {
	switch state {
	case "ACTIVE", "DISABLED", "LOST":
		return inventory.Enrolled
	case "DELETED":
		return inventory.Unenrolled
	case "PROVISIONING":
		return inventory.Pending
	}
	return ""
}

// reportTime is when the device's information was current.
func reportTime(d *am.Device) time.Time {
	for _, s := range []string{d.LastStatusReportTime, d.LastPolicySyncTime, d.EnrollmentTime} {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// record puts what Google says of a device in the inventory, unless the
// inventory has a newer report already (notifications can arrive out of
// order).
func (s *Service) record(ctx context.Context, tx pgx.Tx, d *am.Device) error {
	at := reportTime(d)
	last, err := s.inv.LockFactTx(ctx, tx, inventory.Android, d.Name, "last_status_report")
	if err != nil {
		return err
	}
	if last != "" {
		if prev, err := time.Parse(time.RFC3339Nano, last); err == nil && !at.After(prev) && d.State != "DELETED" {
			return nil // an older report than the one applied
		}
	}
	rep := inventory.Report{Platform: inventory.Android, Identifier: d.Name, Status: status(d.State), Facts: map[string]any{
		"last_status_report": at.UTC().Format(time.RFC3339Nano), "android_state": d.State, "policy_name": d.PolicyName,
		"applied_policy_name": d.AppliedPolicyName, "applied_policy_version": d.AppliedPolicyVersion,
		"policy_compliant": d.PolicyCompliant, "non_compliance": nonCompliance(d), "management_mode": d.ManagementMode,
		"ownership": d.Ownership,
	}}
	if h := d.HardwareInfo; h != nil {
		rep.SerialNumber, rep.Model = h.SerialNumber, strings.TrimSpace(h.Brand+" "+h.Model)
		rep.Name = rep.Model
		rep.Facts["manufacturer"] = h.Manufacturer
	}
	if sw := d.SoftwareInfo; sw != nil {
		rep.OSVersion = sw.AndroidVersion
		rep.Facts["security_patch_level"] = sw.SecurityPatchLevel
		rep.Facts["build_number"] = sw.AndroidBuildNumber
	}
	if ds := d.DeviceSettings; ds != nil {
		rep.Facts["disk_encrypted"] = ds.IsEncrypted
		rep.Facts["passcode_present"] = ds.IsDeviceSecure
	}
	if rep.Status == inventory.Enrolled {
		rep.Facts["held"] = nil // no longer held back, if it was
	}
	_, err = s.inv.RecordTx(ctx, tx, rep)
	if errors.Is(err, inventory.ErrDeviceLimit) {
		// Google enrolled it with a token made before the limit was
		// reached: Trident holds it pending, neither managed nor counted,
		// until a place is free and its next report enrolls it.
		rep.Status, rep.Facts["held"] = inventory.Pending, err.Error()
		_, err = s.inv.RecordTx(ctx, tx, rep)
	}
	return err
}

// nonCompliance is the device's nonComplianceDetails, briefly.
func nonCompliance(d *am.Device) []map[string]string {
	out := []map[string]string{}
	for _, n := range d.NonComplianceDetails {
		out = append(out, map[string]string{"setting": n.SettingName, "reason": n.NonComplianceReason,
			"package": n.PackageName, "field": n.FieldPath})
	}
	return out
}

// SyncArgs lists the tenant's devices from Google into the inventory
// (after binding, and on request: notifications keep it current).
type SyncArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

func (SyncArgs) Kind() string { return "android.sync_devices" }

// Sync runs a SyncArgs job; it returns how many devices it saw.
func (s *Service) Sync(ctx context.Context) (int, error) {
	var ent string
	if err := s.db.ReadTx(ctx, func(tx pgx.Tx) (err error) { ent, err = s.bound(ctx, tx); return err }); err != nil {
		return 0, err
	}
	n := 0
	err := s.am.Enterprises.Devices.List(ent).PageSize(100).Pages(ctx, func(page *am.ListDevicesResponse) error {
		return s.db.Tx(ctx, func(tx pgx.Tx) error {
			for _, d := range page.Devices {
				if !under(d.Name, ent) {
					continue
				}
				if err := s.record(ctx, tx, d); err != nil {
					return err
				}
				n++
			}
			return nil
		})
	})
	return n, google(err)
}

// finish completes the command an operation belongs to.
func (s *Service) finish(ctx context.Context, tx pgx.Tx, op *am.Operation) error {
	if !op.Done {
		return nil
	}
	var cmd uuid.UUID
	err := tx.QueryRow(ctx, `SELECT command_id FROM android_operations WHERE name = $1`, op.Name).Scan(&cmd)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // not one of Trident's
	}
	if err != nil {
		return err
	}
	// The operation is the named device's (enterprises/e/devices/d/
	// operations/o): only that device's command may end with it.
	name, _, ok := strings.Cut(op.Name, "/operations/")
	if !ok {
		return fmt.Errorf("%w: operation %q names no device", ErrBadNotification, op.Name)
	}
	dev, err := s.inv.ByIdentifier(ctx, tx, inventory.Android, name)
	if errors.Is(err, tenancy.ErrNotFound) {
		s.log.WarnContext(ctx, "ignored an operation of a device Trident does not know", "operation", op.Name)
		return nil
	}
	if err != nil {
		return err
	}
	o := commands.Outcome{Status: commands.Acknowledged, Result: map[string]any{"operation": op.Name}}
	if op.Error != nil {
		o = commands.Outcome{Status: commands.Error, Error: op.Error.Message, Result: map[string]any{"operation": op.Name, "code": op.Error.Code}}
	}
	_, err = s.cmds.CompleteTx(ctx, tx, dev.ID, cmd, o)
	if errors.Is(err, commands.ErrForeign) {
		s.log.WarnContext(ctx, "ignored an operation that names another device than its command's", "operation", op.Name, "command", cmd)
		return nil
	}
	if errors.Is(err, commands.ErrState) || errors.Is(err, tenancy.ErrNotFound) {
		return nil // finished already (a redelivery, or expired)
	}
	return err
}
