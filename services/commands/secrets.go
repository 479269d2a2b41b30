package commands

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/internal/fault"
)

// Redacted stands for a secret payload field in everything Trident shows
// (API, dashboard, events): only the device gets the value.
const Redacted = "[redacted]"

// redact replaces the kind's secret fields of payload (a JSON object)
// with Redacted, and says whether it found any.
func (k Kind) redact(payload []byte) ([]byte, bool) {
	if len(k.Secrets) == 0 {
		return payload, false
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil || m == nil || !k.redactMap(m) {
		return payload, false
	}
	out, err := json.Marshal(m)
	if err != nil {
		return payload, false
	}
	return out, true
}

// redactMap replaces the kind's secret fields of m in place, and says
// whether it found any.
func (k Kind) redactMap(m map[string]any) bool {
	found := false
	for _, path := range k.Secrets {
		list, field, nested := strings.Cut(path, "[].")
		if !nested {
			if v, ok := m[path]; ok && v != nil && v != "" {
				m[path], found = Redacted, true
			}
			continue
		}
		items, _ := m[list].([]any)
		for _, it := range items {
			if obj, ok := it.(map[string]any); ok {
				if v, ok := obj[field]; ok && v != nil && v != "" {
					obj[field], found = Redacted, true
				}
			}
		}
	}
	return found
}

// Redact returns payload of a command of kind as people may see it, with
// its secret fields Redacted (for payloads kept elsewhere, such as a
// compliance rule's remediation).
func Redact(kind string, payload map[string]any) map[string]any {
	k, ok := kinds[kind]
	if !ok || payload == nil || len(k.Secrets) == 0 {
		return payload
	}
	// A deep copy to redact: the caller keeps its payload whole.
	raw, err := json.Marshal(payload)
	var m map[string]any
	if err != nil || json.Unmarshal(raw, &m) != nil || !k.redactMap(m) {
		return payload
	}
	return m
}

// redacted is c as a person may see it. Payloads are redacted when they
// are stored; this also covers commands queued before that was so.
func (c Command) redacted() Command {
	if k, ok := kinds[c.Kind]; ok {
		c.Payload, _ = k.redact(c.Payload)
	}
	c.sealed = nil
	return c
}

func sealContext(tenant, id uuid.UUID) string {
	return "tenant/" + tenant.String() + "/command/" + id.String()
}

// ErrNoKey refuses a command with a secret on a server that cannot seal it.
var ErrNoKey = errors.New("commands: no encryption key to seal the command's secrets")

// seal splits a payload into what is stored in plain (secrets redacted)
// and, when it holds secrets, the whole payload sealed.
func (q *Queue) seal(k Kind, tenant, id uuid.UUID, payload []byte) (public, sealed []byte, err error) {
	public, secret := k.redact(payload)
	if !secret {
		return payload, nil, nil
	}
	if q.keys == nil {
		return nil, nil, ErrNoKey
	}
	if sealed, err = q.keys.Seal(payload, sealContext(tenant, id)); err != nil {
		return nil, nil, fmt.Errorf("commands: seal the payload: %w", err)
	}
	return public, sealed, nil
}

// opened is c as its device gets it: the payload whole.
func (q *Queue) opened(c Command) (Command, error) {
	if c.sealed == nil {
		return c, nil
	}
	if q.keys == nil {
		return Command{}, ErrNoKey
	}
	p, err := q.keys.Open(c.sealed, sealContext(c.tenant, c.ID))
	if err != nil {
		return Command{}, fmt.Errorf("commands: open command %s's payload: %w", c.ID, err)
	}
	c.Payload, c.sealed = p, nil
	return c, nil
}

// sealBulk seals a bulk command's payload for its job's args, so that
// River's rows hold no secret.
func (q *Queue) sealBulk(tenant, bulk uuid.UUID, payload map[string]any) ([]byte, error) {
	if payload == nil {
		return nil, nil
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, fault.InvalidField("payload", err.Error())
	}
	if q.keys == nil {
		return nil, ErrNoKey
	}
	return q.keys.Seal(raw, "tenant/"+tenant.String()+"/bulk/"+bulk.String())
}

func (q *Queue) openBulk(a BulkArgs) (map[string]any, error) {
	if a.Payload == nil {
		return nil, nil
	}
	if q.keys == nil {
		return nil, ErrNoKey
	}
	raw, err := q.keys.Open(a.Payload, "tenant/"+a.TenantID.String()+"/bulk/"+a.BulkID.String())
	if err != nil {
		return nil, fmt.Errorf("commands: open bulk %s's payload: %w", a.BulkID, err)
	}
	var p map[string]any
	return p, json.Unmarshal(raw, &p)
}
