package windows

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/tridentmdm/trident/protocols/windows/wire"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/inventory"
)

// Sessions, as MS-MDM and OMA-DM 1.2 run them: the device opens a session
// with Alert 1201 (1200 when a push asked it to) and its DevInfo; each of
// Trident's replies answers every command with a Status and carries the
// commands waiting for the device; the device answers those with Status
// and Results in its next message; the session ends when a reply carries
// no commands. Every message is one HTTP request and one tenant
// transaction, so a session can move between server replicas.
const (
	// maxPerMessage bounds the commands of one reply; the rest go in the
	// session's next messages.
	maxPerMessage = 20
	// defaultMaxMsgSize is the reply size Trident aims below when the
	// device does not say its own (MaxMsgSize in the SyncHdr).
	defaultMaxMsgSize = 64 << 10
)

// deviceCert is the certificate the device authenticated with.
func (h *Handler) deviceCert(r *http.Request) (*x509.Certificate, error) {
	switch h.opts.Identity {
	case FromTLS:
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			return nil, errors.New("no client certificate on the TLS connection")
		}
		return r.TLS.PeerCertificates[0], nil
	default:
		return wire.ParseCertHeader(r.Header.Get(h.opts.Header))
	}
}

func (h *Handler) writeSyncML(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", wire.SyncMLType)
	whole(w, code, b)
}

// refuse answers a message Trident will not act on: only the header's
// status, and Final.
func (h *Handler) refuse(w http.ResponseWriter, m *wire.Message, r *http.Request, httpCode, status int) {
	rep := wire.NewReply(m, h.url(r, ManagementPath))
	rep.Status("0", "SyncHdr", status)
	h.writeSyncML(w, httpCode, rep.Bytes(true))
}

// manage serves one message of a management session.
func (h *Handler) manage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, err := io.ReadAll(io.LimitReader(r.Body, wire.MaxSyncMLMessage+1))
	if err != nil {
		return
	}
	if len(b) > wire.MaxSyncMLMessage {
		http.Error(w, "the message is larger than 4 MiB", http.StatusRequestEntityTooLarge)
		return
	}
	m, err := wire.ParseMessage(b)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !m.VersionOK() {
		h.refuse(w, m, r, http.StatusOK, wire.StatusVersionUnknown)
		return
	}
	cert, err := h.deviceCert(r)
	if err != nil {
		h.log.InfoContext(ctx, "windows session refused", "device_id", m.Hdr.Source.LocURI, "err", err)
		h.refuse(w, m, r, http.StatusForbidden, wire.StatusForbidden)
		return
	}
	var out []byte
	err = h.db.Within(ctx, func(ctx context.Context) error {
		e, err := h.enroll.Authenticate(ctx, cert, m.Hdr.Source.LocURI)
		if err != nil {
			return err
		}
		out, err = h.session(ctx, r, m, e)
		return err
	})
	switch {
	case errors.Is(err, enrollment.ErrNotEnrolled):
		h.log.InfoContext(ctx, "windows session refused", "device_id", m.Hdr.Source.LocURI, "err", err)
		h.refuse(w, m, r, http.StatusForbidden, wire.StatusForbidden)
	case errors.Is(err, enrollment.ErrChunks):
		h.refuse(w, m, r, http.StatusOK, wire.StatusBadRequest)
	case err != nil:
		// Nothing of the message was kept: the device retries it.
		h.log.ErrorContext(ctx, "windows session failed", "device_id", m.Hdr.Source.LocURI, "err", err)
		h.refuse(w, m, r, http.StatusInternalServerError, wire.StatusCommandFailed)
	default:
		h.writeSyncML(w, http.StatusOK, out)
	}
}

// baseID is the Trident command a part's CmdID belongs to.
func baseID(cmdRef string) (uuid.UUID, bool) {
	s, _, _ := strings.Cut(cmdRef, ".")
	id, err := uuid.Parse(s)
	return id, err == nil && len(s) == 36
}

const statusKey = "#status" // where a part's status waits for its chunked results

// kept says whether the device has chunks kept, from earlier messages or
// this one: asked of the database at most once per message, and only when
// an answer could need them.
type kept struct {
	known, any bool
}

func (k *kept) has(ctx context.Context, h *Handler, deviceID string) (bool, error) {
	if !k.known {
		any, err := h.enroll.HasChunks(ctx, deviceID)
		if err != nil {
			return false, err
		}
		k.known, k.any = true, any
	}
	return k.any, nil
}

// added records a chunk kept during this message.
func (k *kept) added() { k.known, k.any = true, true }

// results takes one Results command of a message into answers: a value
// the device sends in chunks (MoreData) is kept until its last chunk,
// then joined; a command whose results are not complete yet is noted in
// chunked and its chunk acknowledged.
func (h *Handler) results(ctx context.Context, rep *wire.Reply, c wire.Command, dev inventory.Device,
	answers map[string]answer, chunked map[uuid.UUID]bool, store *kept) error {
	more := false
	for _, it := range c.Items {
		uri := it.From()
		if uri == "" {
			continue
		}
		if it.MoreData != nil {
			if err := h.enroll.AppendChunk(ctx, dev.Identifier, c.CmdRef, uri, it.Data.Text()); err != nil {
				return err
			}
			store.added()
			more = true
			continue
		}
		var prefix string
		if any, err := store.has(ctx, h, dev.Identifier); err != nil {
			return err
		} else if any {
			if prefix, err = h.enroll.TakeChunks(ctx, dev.Identifier, c.CmdRef, uri); err != nil {
				return err
			}
		}
		a := answers[c.CmdRef]
		if a.values == nil {
			a.values = map[string]string{}
		}
		a.values[uri] = prefix + it.Data.Text()
		answers[c.CmdRef] = a
	}
	if more {
		rep.Status(c.CmdID, "Results", wire.StatusChunkAccepted)
		if id, ok := baseID(c.CmdRef); ok {
			chunked[id] = true
		}
	}
	return nil
}

// session handles one device message in its tenant transaction and
// returns the reply.
func (h *Handler) session(ctx context.Context, r *http.Request, m *wire.Message, e enrollment.Enrollment) ([]byte, error) {
	dev := e.Device
	rep := wire.NewReply(m, h.url(r, ManagementPath))
	rep.Status("0", "SyncHdr", wire.StatusOK)
	final := m.Body.Final != nil
	start := false
	var unenroll string
	devInfo := map[string]string{}
	answers := map[string]answer{}
	chunked := map[uuid.UUID]bool{}
	var store kept
	for _, c := range m.Body.Cmds {
		switch c.XMLName.Local {
		case "Status":
			code, err := strconv.Atoi(strings.TrimSpace(c.Data))
			if err != nil {
				continue // not ours to judge: a status without a code answers nothing
			}
			a := answers[c.CmdRef]
			a.cmd, a.code = c.Cmd, code
			answers[c.CmdRef] = a
		case "Results":
			if err := h.results(ctx, rep, c, dev, answers, chunked, &store); err != nil {
				return nil, err
			}
		case "Alert":
			switch strings.TrimSpace(c.Data) {
			case wire.AlertClientInitiated, wire.AlertServerInitiated:
				start = true
			case wire.AlertGeneric:
				for _, it := range c.Items {
					if t := it.Meta; t != nil && (t.Type == wire.UnenrollUser || t.Type == wire.UnenrollAdmin) {
						unenroll = t.Type
					}
				}
			}
			rep.Status(c.CmdID, "Alert", wire.StatusOK)
		case "Replace":
			for _, it := range c.Items {
				if uri := it.From(); strings.HasPrefix(uri, "./DevInfo/") {
					devInfo[uri] = it.Data.Text()
				}
			}
			rep.Status(c.CmdID, "Replace", wire.StatusOK)
		default:
			rep.Status(c.CmdID, c.XMLName.Local, wire.StatusNotAllowed)
		}
	}
	if unenroll != "" {
		if err := h.enroll.Unenroll(ctx, dev.Identifier, unenroll); err != nil && !errors.Is(err, enrollment.ErrNotEnrolled) {
			return nil, err
		}
		h.log.InfoContext(ctx, "windows device unenrolled", "device_id", dev.Identifier, "reason", unenroll)
		return rep.Bytes(true), nil
	}
	checkin := inventory.Report{Platform: inventory.Windows, Identifier: dev.Identifier, Model: devInfo["./DevInfo/Mod"], Facts: map[string]any{}}
	for uri, fact := range map[string]string{"./DevInfo/Man": "manufacturer", "./DevInfo/Lang": "language", "./DevInfo/DmV": "dm_version"} {
		if v := devInfo[uri]; v != "" {
			checkin.Facts[fact] = v
		}
	}
	if err := h.enroll.CheckIn(ctx, checkin, start, m.Hdr.SessionID); err != nil {
		return nil, err
	}
	if err := h.complete(ctx, dev, answers, chunked, &store); err != nil {
		return nil, err
	}
	if !final {
		// The device has more of its package to send: ask for it, and
		// send nothing new until it is complete.
		rep.Alert(wire.AlertNextMessage)
		return rep.Bytes(false), nil
	}
	if err := h.send(ctx, rep, m, dev, start); err != nil {
		return nil, err
	}
	return rep.Bytes(true), nil
}

// complete records the device's answers to Trident's commands. Answers to
// commands that are not this device's, or not waiting for an answer, are
// ignored.
func (h *Handler) complete(ctx context.Context, dev inventory.Device, answers map[string]answer, chunked map[uuid.UUID]bool, store *kept) error {
	// One query for every command answered, however many statuses the
	// message holds (a message of 30,000 statuses for unknown ids took a
	// query each).
	var ids []uuid.UUID
	seen := map[uuid.UUID]bool{}
	for ref := range answers {
		if id, ok := baseID(ref); ok && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	mine, foreign, err := h.cmds.ForDeviceAll(ctx, dev.ID, ids)
	if err != nil {
		return err
	}
	if len(foreign) > 0 {
		h.log.WarnContext(ctx, "windows answers to another device's commands ignored", "device_id", dev.Identifier, "commands", len(foreign), "first", foreign[0])
	}
	for _, id := range ids {
		c, ok := mine[id]
		switch {
		case !ok:
			continue
		case c.Status != commands.Sent:
			h.log.InfoContext(ctx, "windows answer ignored", "device_id", dev.Identifier, "command", id, "status", c.Status)
			continue
		}
		parts, err := toWire(c)
		if err != nil {
			return err
		}
		if chunked[id] {
			// Results still arriving: keep the statuses until they have.
			for _, pid := range partIDs(parts) {
				if a, ok := answers[pid]; ok && a.code != 0 {
					if err := h.enroll.AppendChunk(ctx, dev.Identifier, pid, statusKey, strconv.Itoa(a.code)); err != nil {
						return err
					}
					store.added()
				}
			}
			continue
		}
		// Statuses kept while this command's results came in pieces.
		if any, err := store.has(ctx, h, dev.Identifier); err != nil {
			return err
		} else if any {
			for _, pid := range partIDs(parts) {
				status, err := h.enroll.TakeChunks(ctx, dev.Identifier, pid, statusKey)
				if err != nil {
					return err
				}
				if a := answers[pid]; a.code == 0 && status != "" {
					a.code, _ = strconv.Atoi(status)
					answers[pid] = a
				}
			}
		}
		o, learned := outcome(c, parts, answers)
		if _, err := h.cmds.Complete(ctx, dev.ID, c.ID, o); err != nil {
			return err
		}
		if learned != nil {
			learned.Identifier = dev.Identifier
			if _, err := h.inv.Record(ctx, *learned); err != nil {
				return err
			}
		}
	}
	return nil
}

// send adds the commands waiting for the device to the reply: at a
// session's start, first those sent before and never answered.
func (h *Handler) send(ctx context.Context, rep *wire.Reply, m *wire.Message, dev inventory.Device, start bool) error {
	budget := defaultMaxMsgSize
	if m.Hdr.Meta != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(m.Hdr.Meta.MaxMsgSize)); err == nil && n >= 4096 {
			budget = n
		}
	}
	budget = budget * 3 / 4
	var queue []commands.Command
	if start {
		again, err := h.cmds.Resend(ctx, dev.ID)
		if err != nil {
			return err
		}
		queue = again
	}
	for n := 0; n < maxPerMessage || len(queue) > 0; n++ {
		var c commands.Command
		if len(queue) > 0 {
			c, queue = queue[0], queue[1:]
		} else {
			if rep.Len() > budget/2 && n > 0 {
				break
			}
			next, err := h.cmds.Next(ctx, dev.ID)
			if err != nil {
				return err
			}
			if next == nil {
				break
			}
			c = *next
		}
		parts, err := toWire(c)
		if err != nil {
			// Checked when it was queued; a kind Windows lost since ends here.
			if _, err := h.cmds.Complete(ctx, dev.ID, c.ID, commands.Outcome{Status: commands.Error, Error: err.Error()}); err != nil {
				return err
			}
			continue
		}
		for _, p := range parts {
			rep.Command(p)
		}
	}
	return nil
}
