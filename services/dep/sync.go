package dep

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/micromdm/nanodep/godep"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tridentmdm/trident/tenancy"
)

// SyncArgs syncs one token's devices: the full fetch until it is done,
// then incremental syncs from the stored cursor.
type SyncArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
	TokenID  uuid.UUID `json:"token_id"`
}

func (SyncArgs) Kind() string { return "dep.sync" }

// syncOpts keeps one sync per token queued or running at a time: two
// would race for the cursor.
func syncOpts() *river.InsertOpts {
	return &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateScheduled, rivertype.JobStateRetryable}}}
}

// PageLimit is how many devices a sync asks Apple for per page (Apple's
// maximum is 1,000).
const PageLimit = 500

// maxPages bounds one sync run; the next run goes on from the cursor.
const maxPages = 1000

// SyncResult counts what a sync run did.
type SyncResult struct {
	Pages, Added, Modified, Removed, Assigning int
	Echoed                                     bool // Apple answered the cursor it was given, with more to follow
}

// ErrCursorMoved means another sync of the same token committed first;
// this one stops without writing.
var ErrCursorMoved = errors.New("dep: the token's cursor moved under this sync")

type tokenState struct {
	cursor    string
	fetched   bool
	hasTokens bool
	expiry    *time.Time
	profile   *uuid.UUID
	requests  int64 // syncs asked for so far (EnqueueSync)
}

func (s *Service) state(ctx context.Context, tx pgx.Tx, id uuid.UUID) (tokenState, error) {
	var st tokenState
	err := tx.QueryRow(ctx, `SELECT cursor, fetched, tokens_sealed IS NOT NULL, access_token_expiry, profile_id, sync_requests FROM dep_tokens WHERE id = $1`, id).
		Scan(&st.cursor, &st.fetched, &st.hasTokens, &st.expiry, &st.profile, &st.requests)
	if errors.Is(err, pgx.ErrNoRows) {
		err = fmt.Errorf("ABM token: %w", tenancy.ErrNotFound)
	}
	return st, err
}

// Sync fetches the token's devices from Apple and commits each page with
// its cursor in one transaction, so the cursor never runs ahead of the
// devices it covers: a failure leaves the last committed page's cursor,
// and the next run asks Apple again from there.
//
// A sync asked for while the run is under way (River merges it into the
// running job) makes the run go round again from its cursor, up to
// maxRounds, so what changed in ABM before the ask is never left for the
// next schedule.
//
// Errors that only an admin can fix (terms not signed, a rejected or
// expired token) are recorded on the token and end the run without an
// error; the periodic sync tries again. Others are returned, for River to
// retry.
func (s *Service) Sync(ctx context.Context, id uuid.UUID) (SyncResult, error) {
	return s.SyncJob(ctx, id, nil)
}

// SyncJob is Sync run as River's job: complete (jobs.Complete) marks the
// job done in the transaction of the round that finds no ask made since
// it began. River merges an ask into the running job (its insert is
// skipped as a duplicate), so were the job completed after that check, an
// ask between the two would be lost; in one transaction the ask's count
// (its UPDATE of the token's row) either precedes the check, and the run
// goes round again, or waits for the commit, and its insert finds the job
// done and queues a new one.
func (s *Service) SyncJob(ctx context.Context, id uuid.UUID, complete func(context.Context) error) (SyncResult, error) {
	var res SyncResult
	for range maxRounds {
		again, err := s.syncRound(ctx, id, &res, complete)
		if s.roundEnded != nil {
			s.roundEnded()
		}
		if err != nil || !again {
			return res, err
		}
	}
	return res, nil
}

// maxRounds bounds how often one run goes round for asks made during it;
// asks that keep coming faster than rounds run wait for the next schedule.
const maxRounds = 3

// syncRound is one pass of Sync; again reports a sync asked for since the
// pass began. Without one, complete (if any) runs in the transaction that
// found none.
func (s *Service) syncRound(ctx context.Context, id uuid.UUID, res *SyncResult, complete func(context.Context) error) (again bool, err error) {
	tenant, ok := tenancy.FromContext(ctx)
	if !ok {
		return false, tenancy.ErrNoTenant
	}
	var st tokenState
	err = s.db.ReadTx(ctx, func(tx pgx.Tx) (err error) { st, err = s.state(ctx, tx, id); return err })
	if err != nil || !st.hasTokens {
		return false, err
	}
	if status, detail := expiryStatus(s.now(), st.expiry); status == Expired {
		return false, s.setStatus(ctx, id, status, detail)
	}
	name := Name(tenant, id)
	cursor, fetched, reset := st.cursor, st.fetched, false
	for res.Pages < maxPages {
		opts := []godep.DeviceRequestOption{godep.WithLimit(PageLimit)}
		if cursor != "" {
			opts = append(opts, godep.WithCursor(cursor))
		}
		var resp *godep.FetchDeviceResponseJson
		if !fetched {
			resp, err = s.client.FetchDevices(ctx, name, opts...)
			if godep.IsCursorExhausted(err) {
				// The fetch was complete already: sync from here.
				fetched = true
				if err := s.saveCursor(ctx, id, cursor, cursor, true); err != nil {
					return false, err
				}
				continue
			}
		} else {
			resp, err = s.client.SyncDevices(ctx, name, opts...)
		}
		if (godep.IsCursorExpired(err) || godep.IsCursorInvalid(err)) && !reset {
			// Apple no longer knows the cursor (they expire after 7 days):
			// fetch everything again. Devices are upserted, so nothing is
			// duplicated.
			s.log.InfoContext(ctx, "ABM cursor refused; fetching all devices again", "token", id, "err", err)
			if err := s.saveCursor(ctx, id, cursor, "", false); err != nil {
				return false, err
			}
			cursor, fetched, reset = "", false, true
			continue
		}
		if err != nil {
			s.observe(ctx, id, err)
			s.recordSyncError(ctx, id, err)
			if st, _ := classify(err); st != "" {
				return false, nil
			}
			return false, fmt.Errorf("dep: sync token %s: %w", id, err)
		}
		fetchPhase := !fetched
		if fetchPhase && !resp.MoreToFollow {
			fetched = true
		}
		if err := s.db.Tx(ctx, func(tx pgx.Tx) error {
			return s.commitPage(ctx, tx, id, cursor, resp, fetchPhase, fetched, res)
		}); err != nil {
			s.recordSyncError(ctx, id, err)
			return false, err
		}
		res.Pages++
		if resp.Cursor == cursor && resp.MoreToFollow {
			// Apple has been seen answering its own cursor with "more to
			// follow" forever: asking again would loop.
			s.log.WarnContext(ctx, "ABM echoed the sync cursor with more to follow; stopping this run", "token", id)
			res.Echoed = true
			break
		}
		cursor = resp.Cursor
		if !resp.MoreToFollow && !fetchPhase {
			break
		}
	}
	s.observe(ctx, id, nil)
	err = s.db.Within(ctx, func(ctx context.Context) error {
		var requests int64
		if err := s.db.Tx(ctx, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `UPDATE dep_tokens SET synced_at = now(), sync_error = '' WHERE id = $1 RETURNING sync_requests`, id).Scan(&requests)
		}); err != nil {
			return err
		}
		if again = requests != st.requests; !again && complete != nil {
			return complete(ctx)
		}
		return nil
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = fmt.Errorf("ABM token: %w", tenancy.ErrNotFound)
	}
	return again && err == nil, err
}

// saveCursor replaces the cursor, if it is still from.
func (s *Service) saveCursor(ctx context.Context, id uuid.UUID, from, to string, fetched bool) error {
	return s.db.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE dep_tokens SET cursor = $3, fetched = $4 WHERE id = $1 AND cursor = $2`, id, from, to, fetched)
		if err == nil && tag.RowsAffected() == 0 {
			err = ErrCursorMoved
		}
		return err
	})
}

func (s *Service) recordSyncError(ctx context.Context, id uuid.UUID, cause error) {
	msg := cause.Error()
	if ae := s.appleError(cause); ae != nil {
		msg = ae.Error()
	}
	if err := s.db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE dep_tokens SET sync_error = left($2, 1000) WHERE id = $1`, id, msg)
		return err
	}); err != nil {
		s.log.WarnContext(ctx, "record ABM sync error", "token", id, "err", err)
	}
}

// commitPage applies one page of Apple's devices, moves the cursor past
// them, and queues profile assignments for new devices, all in tx.
func (s *Service) commitPage(ctx context.Context, tx pgx.Tx, id uuid.UUID, from string, resp *godep.FetchDeviceResponseJson,
	fetchPhase, fetched bool, res *SyncResult) error {
	st, err := s.stateForUpdate(ctx, tx, id)
	if err != nil {
		return err
	}
	if st.cursor != from {
		return ErrCursorMoved
	}
	var added, modified, removed, assigning []string
	b, ops := s.devicesBatch(ctx, id, resp, fetchPhase)
	br := tx.SendBatch(ctx, b)
	for _, o := range ops {
		if o.kind == "deleted" {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return fmt.Errorf("dep: remove device %s: %w", o.serial, err)
			}
			if tag.RowsAffected() > 0 {
				removed = append(removed, o.serial)
			}
			continue
		}
		var inserted bool
		var assignStatus, profileStatus string
		if err := br.QueryRow().Scan(&inserted, &assignStatus, &profileStatus); err != nil {
			br.Close()
			return fmt.Errorf("dep: record device %s: %w", o.serial, err)
		}
		if inserted {
			added = append(added, o.serial)
		} else {
			modified = append(modified, o.serial)
		}
		// Devices new to the server (or back on it) without a profile get
		// the token's.
		if st.profile != nil && (inserted || o.kind == "added") && assignStatus != "pending" &&
			(profileStatus == "empty" || profileStatus == "removed") {
			assigning = append(assigning, o.serial)
		}
	}
	if err := br.Close(); err != nil {
		return err
	}
	if len(assigning) > 0 {
		if err := s.assignNew(ctx, tx, id, *st.profile, assigning); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE dep_tokens SET cursor = $2, fetched = $3 WHERE id = $1`, id, resp.Cursor, fetched); err != nil {
		return err
	}
	if len(added)+len(modified)+len(removed) > 0 {
		if _, err := s.pub.Publish(ctx, tx, EventDevicesSynced, id.String(), DevicesSynced{TokenID: id,
			Added: nonNil(added), Modified: nonNil(modified), Removed: nonNil(removed), Assigning: nonNil(assigning)}); err != nil {
			return err
		}
	}
	res.Added += len(added)
	res.Modified += len(modified)
	res.Removed += len(removed)
	res.Assigning += len(assigning)
	return nil
}

// pageOp is what a page of ABM devices does to one of them: "added",
// "modified" or "deleted".
type pageOp struct {
	serial string
	kind   string
}

// devicesBatch queues a statement per device of a page (an upsert, or a
// delete), in the order of the ops it returns: what commitPage reads
// back.
func (s *Service) devicesBatch(ctx context.Context, id uuid.UUID, resp *godep.FetchDeviceResponseJson, fetchPhase bool) (*pgx.Batch, []pageOp) {
	b := &pgx.Batch{}
	var ops []pageOp
	for _, d := range resp.Devices {
		kind := string(deref(d.OpType))
		if fetchPhase || kind == "" {
			kind = "added"
		}
		if d.SerialNumber == "" {
			continue // nothing to key it by; Apple never sends one without
		}
		switch kind {
		case "deleted":
			b.Queue(`DELETE FROM dep_devices WHERE serial_number = $1 AND token_id = $2`, d.SerialNumber, id)
		case "added", "modified":
			b.Queue(`INSERT INTO dep_devices AS d (serial_number, token_id, model, description, color, device_family, os, asset_tag,
  assigned_by, assigned_at, profile_status, apple_profile_uuid, profile_assigned_at, profile_pushed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, coalesce(nullif($11, ''), 'empty'), $12, $13, $14)
ON CONFLICT (tenant_id, serial_number) DO UPDATE SET token_id = EXCLUDED.token_id, model = EXCLUDED.model,
  description = EXCLUDED.description, color = EXCLUDED.color, device_family = EXCLUDED.device_family, os = EXCLUDED.os,
  asset_tag = EXCLUDED.asset_tag, assigned_by = EXCLUDED.assigned_by, assigned_at = EXCLUDED.assigned_at,
  profile_status = EXCLUDED.profile_status, apple_profile_uuid = EXCLUDED.apple_profile_uuid,
  profile_assigned_at = EXCLUDED.profile_assigned_at, profile_pushed_at = EXCLUDED.profile_pushed_at, updated_at = now()
RETURNING (xmax = 0), assign_status, profile_status`,
				d.SerialNumber, id, d.Model, deref(d.Description), deref(d.Color), string(deref(d.DeviceFamily)), string(deref(d.Os)),
				deref(d.AssetTag), deref(d.DeviceAssignedBy), d.DeviceAssignedDate, string(deref(d.ProfileStatus)),
				deref(d.ProfileUuid), d.ProfileAssignTime, d.ProfilePushTime)
		default:
			s.log.InfoContext(ctx, "ABM device with an unknown op_type; skipped", "token", id, "serial", d.SerialNumber, "op_type", kind)
			continue
		}
		ops = append(ops, pageOp{d.SerialNumber, kind})
	}
	return b, ops
}

// assignNew marks devices new to the server for the token's default
// profile and queues the job that asks Apple to assign it.
func (s *Service) assignNew(ctx context.Context, tx pgx.Tx, id, profile uuid.UUID, serials []string) error {
	if _, err := tx.Exec(ctx, `UPDATE dep_devices SET assign_profile_id = $2, assign_status = 'pending', assign_error = '', updated_at = now()
WHERE serial_number = ANY($1)`, serials, profile); err != nil {
		return err
	}
	tenant, err := tenancy.Require(ctx)
	if err != nil {
		return err
	}
	_, err = s.jobs.InsertManyTx(ctx, tx, []river.InsertManyParams{{Args: AssignArgs{TenantID: tenant, TokenID: id,
		ProfileID: profile, Serials: serials}}})
	return err
}

func (s *Service) stateForUpdate(ctx context.Context, tx pgx.Tx, id uuid.UUID) (tokenState, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM dep_tokens WHERE id = $1 FOR UPDATE`, id); err != nil {
		return tokenState{}, err
	}
	return s.state(ctx, tx, id)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// SyncTenantArgs queues a sync of each of a tenant's tokens (the
// periodic sweep enqueues one per tenant).
type SyncTenantArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

func (SyncTenantArgs) Kind() string { return "dep.sync_tenant" }

// EnqueueAll queues a sync of each of the tenant's tokens that has a
// server token (a token waiting for its terms or renewal is tried too: the
// admin may have fixed it in ABM).
func (s *Service) EnqueueAll(ctx context.Context) (int, error) {
	return tenancy.Write(ctx, s.db, func(tx pgx.Tx) (int, error) { return s.enqueueAllTx(ctx, tx) })
}

func (s *Service) enqueueAllTx(ctx context.Context, tx pgx.Tx) (int, error) {
	rows, err := tx.Query(ctx, `SELECT id FROM dep_tokens WHERE tokens_sealed IS NOT NULL`)
	if err != nil {
		return 0, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := s.enqueueSyncTx(ctx, tx, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}
