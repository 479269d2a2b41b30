// Package android is Android Enterprise for each tenant through Google's
// Android Management API (google.golang.org/api/androidmanagement/v1): one
// enterprise per tenant, bound through Google's signup flow; policies
// published with policies.patch; enrollment tokens with their QR codes;
// devices kept in the inventory from Pub/Sub notifications (and a sync);
// commands sent with devices.issueCommand and completed by the COMMAND
// notification of their operation.
//
// Calls that only an admin's click waits for (signup, enrollment tokens)
// are made in the request; the rest run in River jobs that retry with
// backoff and wait out Google's quota (429) answers.
package android

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	am "google.golang.org/api/androidmanagement/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// NotificationTypes are the notifications every enterprise is bound with.
var NotificationTypes = []string{"ENROLLMENT", "STATUS_REPORT", "COMMAND", "USAGE_LOGS"}

// Service is the tenant-scoped Android service.
type Service struct {
	db       *tenancy.DB
	am       *am.Service
	pub      *events.Publisher
	jobs     events.Jobs
	inv      *inventory.Inventory
	cmds     *commands.Queue
	project  string
	topic    string
	callback func(ctx context.Context, tenant uuid.UUID) (string, error)
	brand    func(ctx context.Context) (Brand, error)
	log      *slog.Logger
}

// Options configure the service.
type Options struct {
	// Project is the Google Cloud project Trident's enterprises belong to.
	Project string
	// Topic is the Pub/Sub topic enterprises publish notifications to
	// (projects/{project}/topics/{topic}); its push subscription points at
	// the tenants' /android/pubsub.
	Topic string
	// Client are the API client's options: credentials in production,
	// option.WithEndpoint for a simulator.
	Client []option.ClientOption
	// CallbackURL is where Google's signup sends the admin back: the
	// tenant's /android/callback.
	CallbackURL func(ctx context.Context, tenant uuid.UUID) (string, error)
	// Branding is the tenant in ctx's presentation, which its enterprise
	// shows while a device enrolls (nil: Google's defaults).
	Branding func(ctx context.Context) (Brand, error)
	Log      *slog.Logger
}

// New returns the service.
func New(ctx context.Context, db *tenancy.DB, pub *events.Publisher, jobs events.Jobs, inv *inventory.Inventory,
	cmds *commands.Queue, o Options) (*Service, error) {
	svc, err := am.NewService(ctx, o.Client...)
	if err != nil {
		return nil, fmt.Errorf("android: management API client: %w", err)
	}
	s := &Service{db: db, am: svc, pub: pub, jobs: jobs, inv: inv, cmds: cmds, project: o.Project, topic: o.Topic,
		callback: o.CallbackURL, brand: o.Branding, log: o.Log}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// Errors callers tell apart.
var (
	ErrNotBound = fault.New(fault.Conflict, "the tenant has no Android enterprise bound yet: an admin signs up first")
	ErrSignup   = errors.New("this signup link is unknown, used or superseded: start the signup again")
)

// GoogleError is a refusal of Google's the caller can read, or a quota
// answer with how long to wait.
type GoogleError struct {
	Code       int
	Message    string
	RetryAfter time.Duration // for 429 and 5xx
}

func (e *GoogleError) Error() string {
	return fmt.Sprintf("Google answered %d: %s", e.Code, e.Message)
}

// As presents Google's refusal as a fault to the edges: a quota or a
// passing outage is Unavailable (with when to try again), anything else
// Upstream.
func (e *GoogleError) As(target any) bool {
	p, ok := target.(**fault.Error)
	if !ok {
		return false
	}
	if e.Code == http.StatusTooManyRequests {
		*p = &fault.Error{Code: fault.Unavailable, Message: "Google's quota is exhausted; try again later", RetryAfter: e.RetryAfter, Err: e}
	} else {
		*p = &fault.Error{Code: fault.Upstream, Message: e.Error(), Err: e}
	}
	return true
}

// Retryable says whether trying again later can help.
func (e *GoogleError) Retryable() bool { return e.Code == http.StatusTooManyRequests || e.Code >= 500 }

// google wraps an API client error.
func google(err error) error {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return err
	}
	out := &GoogleError{Code: ge.Code, Message: ge.Message}
	if out.Retryable() {
		out.RetryAfter = 30 * time.Second
		if s := ge.Header.Get("Retry-After"); s != "" {
			if n, err := strconv.Atoi(s); err == nil && n > 0 {
				out.RetryAfter = time.Duration(n) * time.Second
			}
		}
	}
	return out
}

// Snooze turns a quota answer into River's snooze, so waiting out
// Google's quota does not spend the job's attempts.
func Snooze(err error) error {
	var ge *GoogleError
	if IsQuota(err) && errors.As(err, &ge) {
		return river.JobSnooze(ge.RetryAfter)
	}
	return err
}

// IsQuota reports whether err is Google's quota answer.
func IsQuota(err error) bool {
	var ge *GoogleError
	return errors.As(err, &ge) && ge.Code == http.StatusTooManyRequests
}

// NoteQuota records that Google refused one of the tenant's calls for
// quota now (the console shows it), when err is that answer; it answers
// err.
func (s *Service) NoteQuota(ctx context.Context, err error) error {
	if !IsQuota(err) {
		return err
	}
	if nerr := s.db.Tx(ctx, func(tx pgx.Tx) error { return noteQuotaTx(ctx, tx) }); nerr != nil {
		return errors.Join(err, nerr)
	}
	return err
}

func noteQuotaTx(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `UPDATE android_enterprises SET quota_at = now()`)
	return err
}

// Enterprise is a tenant's binding to Android Enterprise.
type Enterprise struct {
	Status      string    `json:"status"`         // one of signing_up, bound, unbound
	Name        string    `json:"name,omitempty"` // The Android Management API's enterprises/{id}.
	DisplayName string    `json:"display_name,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
	// QuotaAt is when Google last refused one of the tenant's calls for
	// quota (nil: never): the call waited and was tried again.
	QuotaAt *time.Time `json:"quota_at,omitempty"`
}

// Enterprise reads the tenant's enterprise.
func (s *Service) Enterprise(ctx context.Context) (Enterprise, error) {
	return tenancy.Read(ctx, s.db, func(tx pgx.Tx) (Enterprise, error) { return s.enterpriseTx(ctx, tx) })
}

func (s *Service) enterpriseTx(ctx context.Context, tx pgx.Tx) (Enterprise, error) {
	var e Enterprise
	err := tx.QueryRow(ctx, `SELECT status, name, display_name, updated_at, quota_at FROM android_enterprises`).
		Scan(&e.Status, &e.Name, &e.DisplayName, &e.UpdatedAt, &e.QuotaAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, fmt.Errorf("Android enterprise: %w", tenancy.ErrNotFound)
	}
	return e, err
}

// bound returns the tenant's enterprise name, or ErrNotBound.
func (s *Service) bound(ctx context.Context, tx pgx.Tx) (string, error) {
	e, err := s.enterpriseTx(ctx, tx)
	if errors.Is(err, tenancy.ErrNotFound) || (err == nil && e.Status != "bound") {
		return "", ErrNotBound
	}
	return e.Name, err
}

func hashState(state string) []byte {
	h := sha256.Sum256([]byte(state))
	return h[:]
}

// Signup starts binding the tenant to a new enterprise: the admin opens
// the returned URL (Google's signup), and Google sends them back to the
// tenant's callback with a one-time state.
func (s *Service) Signup(ctx context.Context, adminEmail string) (string, error) {
	tenant, ok := tenancy.FromContext(ctx)
	if !ok {
		return "", tenancy.ErrNoTenant
	}
	err := s.db.ReadTx(ctx, func(tx pgx.Tx) error {
		e, err := s.enterpriseTx(ctx, tx)
		if err == nil && e.Status == "bound" {
			return fmt.Errorf("the tenant is bound to %s already; unbind it first: %w", e.Name, tenancy.ErrConflict)
		}
		if errors.Is(err, tenancy.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return "", err
	}
	b := make([]byte, 24)
	rand.Read(b)
	state := base64.RawURLEncoding.EncodeToString(b)
	cb, err := s.callback(ctx, tenant)
	if err != nil {
		return "", err
	}
	call := s.am.SignupUrls.Create().ProjectId(s.project).CallbackUrl(cb + "?state=" + state).Context(ctx)
	if adminEmail != "" {
		call = call.AdminEmail(adminEmail)
	}
	su, err := call.Do()
	if err != nil {
		return "", google(err)
	}
	err = s.db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO android_enterprises (status, signup_name, state_hash) VALUES ('signing_up', $1, $2)
ON CONFLICT (tenant_id) DO UPDATE SET status = 'signing_up', signup_name = $1, state_hash = $2, updated_at = now()
WHERE android_enterprises.status <> 'bound'`, su.Name, hashState(state))
		return err
	})
	return su.Url, err
}

// CompleteSignup finishes the binding when Google sends the admin back
// with state and enterpriseToken: the enterprise is created with the
// Pub/Sub topic, and its devices synced.
func (s *Service) CompleteSignup(ctx context.Context, state, enterpriseToken, displayName string) (Enterprise, error) {
	var signupName string
	var stateHash []byte
	err := s.db.ReadTx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT signup_name, state_hash FROM android_enterprises WHERE status = 'signing_up'`).Scan(&signupName, &stateHash)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Enterprise{}, ErrSignup
	}
	if err != nil {
		return Enterprise{}, err
	}
	if state == "" || enterpriseToken == "" || subtle.ConstantTimeCompare(stateHash, hashState(state)) != 1 {
		return Enterprise{}, ErrSignup
	}
	e, err := s.am.Enterprises.Create(&am.Enterprise{EnterpriseDisplayName: displayName, PubsubTopic: s.topic,
		EnabledNotificationTypes: NotificationTypes}).ProjectId(s.project).SignupUrlName(signupName).
		EnterpriseToken(enterpriseToken).Context(ctx).Do()
	if err != nil {
		return Enterprise{}, google(err)
	}
	var out Enterprise
	err = s.db.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE android_enterprises SET status = 'bound', name = $1, display_name = $2, pubsub_topic = $3,
signup_name = '', state_hash = NULL, updated_at = now() WHERE status = 'signing_up' AND signup_name = $4`, e.Name, displayName, s.topic, signupName)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrSignup
		}
		if _, err := s.pub.Publish(ctx, tx, EventEnterpriseBound, e.Name, EnterpriseBound{Enterprise: e.Name}); err != nil {
			return err
		}
		if s.brand != nil {
			if err := s.insert(ctx, tx, func(t uuid.UUID) river.JobArgs { return BrandArgs{TenantID: t} }); err != nil {
				return err
			}
		}
		if err := s.insert(ctx, tx, func(t uuid.UUID) river.JobArgs { return SyncArgs{TenantID: t} }); err != nil {
			return err
		}
		out, err = s.enterpriseTx(ctx, tx)
		return err
	})
	return out, err
}

// Unbind deletes the tenant's enterprise at Google (its devices are
// unenrolled and wiped of the work profile by Google) and marks its
// devices unenrolled.
func (s *Service) Unbind(ctx context.Context) error {
	var name string
	if err := s.db.ReadTx(ctx, func(tx pgx.Tx) (err error) { name, err = s.bound(ctx, tx); return err }); err != nil {
		return err
	}
	if _, err := s.am.Enterprises.Delete(name).Context(ctx).Do(); err != nil && !isNotFound(err) {
		return google(err)
	}
	return s.db.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE android_enterprises SET status = 'unbound', updated_at = now()`); err != nil {
			return err
		}
		picked, err := s.inv.SelectTx(ctx, tx, inventory.Selection{Platform: inventory.Android})
		if err != nil {
			return err
		}
		for _, d := range picked {
			if _, err := s.inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Android, Identifier: d.Identifier, Status: inventory.Unenrolled}); err != nil {
				return err
			}
		}
		_, err = s.pub.Publish(ctx, tx, EventEnterpriseUnbound, name, EnterpriseUnbound{Enterprise: name, Devices: len(picked)})
		return err
	})
}

func isNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

// insert enqueues the job that args makes for the caller's tenant, in tx;
// without a tenant it refuses.
func (s *Service) insert(ctx context.Context, tx pgx.Tx, args func(tenant uuid.UUID) river.JobArgs) error {
	tenant, err := tenancy.Require(ctx)
	if err != nil {
		return err
	}
	_, err = s.jobs.InsertManyTx(ctx, tx, []river.InsertManyParams{{Args: args(tenant)}})
	return err
}

// under says whether resource (a device or operation name) belongs to
// enterprise.
func under(resource, enterprise string) bool {
	rest, ok := strings.CutPrefix(resource, enterprise+"/")
	if enterprise == "" || !ok || len(resource) > 512 {
		return false
	}
	// Every segment is an AMAPI id: no "..", ".", empty or odd segment
	// (enterprises/A/../../B/devices/X was stored before).
	for _, seg := range strings.Split(rest, "/") {
		if !resourceSegment.MatchString(seg) {
			return false
		}
	}
	return true
}

var resourceSegment = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// RequestSync queues a sync of the tenant's devices from Google (the
// android.sync job): notifications keep devices current, this lists them
// all again.
func (s *Service) RequestSync(ctx context.Context) error {
	return s.db.Tx(ctx, func(tx pgx.Tx) error {
		return s.insert(ctx, tx, func(t uuid.UUID) river.JobArgs { return SyncArgs{TenantID: t} })
	})
}
