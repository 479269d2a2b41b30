package main

import (
	"context"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/dashboard"
	"github.com/tridentmdm/trident/protocols/apple"
	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/tenancy"
)

// appleAPI adapts the Apple edge to what the API asks of it, turning its
// errors into answers.
type appleAPI struct {
	store    *mdmstore.Store
	profiles *apple.Profiles
	requests *apple.PushRequests
}

func (a appleAPI) StorePushCert(ctx context.Context, certPEM, keyPEM []byte, replaceTopic bool) error {
	return apple.StorePushCert(ctx, a.store, certPEM, keyPEM, replaceTopic)
}

func (a appleAPI) RequestPushCert(ctx context.Context, t tenancy.Tenant) (api.PushCertRequest, error) {
	r, err := a.requests.Request(ctx, t)
	out := api.PushCertRequest{RequestFile: r.RequestFile, CSR: r.CSR}
	if r.RequestFile != "" {
		out.NextStep = "Save request_file's text as a file (it is already the base64 form Apple expects), upload it at Apple's Push Certificates Portal, then PUT the issued certificate without a key."
	} else {
		out.NextStep = "This server has no MDM vendor certificate: have an MDM vendor sign the CSR, upload the signed request at Apple's Push Certificates Portal, then PUT the issued certificate without a key."
	}
	return out, err
}

func (a appleAPI) PushCertificates(ctx context.Context) ([]api.PushCertificate, error) {
	certs, err := a.store.PushCerts(ctx)
	out := make([]api.PushCertificate, len(certs))
	for i, c := range certs {
		out[i] = api.PushCertificate{Topic: c.Topic, NotAfter: c.NotAfter, UpdatedAt: c.UpdatedAt}
	}
	return out, err
}

func (a appleAPI) Enrollment(ctx context.Context, t tenancy.Tenant) ([]byte, error) {
	return a.profiles.Enrollment(ctx, t)
}

// appleDashboard adapts the Apple edge to what the dashboard asks of it.
type appleDashboard struct{ a appleAPI }

func (d appleDashboard) Enrollment(ctx context.Context, t tenancy.Tenant) ([]byte, error) {
	return d.a.Enrollment(ctx, t)
}

func (d appleDashboard) PushCertificate(ctx context.Context) (dashboard.PushCertificate, bool, error) {
	certs, err := d.a.PushCertificates(ctx)
	if err != nil || len(certs) == 0 {
		return dashboard.PushCertificate{}, false, err
	}
	return dashboard.PushCertificate{Topic: certs[0].Topic, NotAfter: certs[0].NotAfter, UpdatedAt: certs[0].UpdatedAt}, true, nil
}

func (d appleDashboard) StorePushCert(ctx context.Context, certPEM, keyPEM []byte, replaceTopic bool) error {
	return d.a.StorePushCert(ctx, certPEM, keyPEM, replaceTopic)
}

func (d appleDashboard) RequestPushCert(ctx context.Context, t tenancy.Tenant) (dashboard.PushCertRequest, error) {
	r, err := d.a.RequestPushCert(ctx, t)
	return dashboard.PushCertRequest{RequestFile: r.RequestFile, CSR: r.CSR}, err
}
