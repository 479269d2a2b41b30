package devicesim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"

	"github.com/micromdm/plist"
	"github.com/smallstep/pkcs7"
	bplist "howett.net/plist"
)

// AppleDevice is a simulated iPhone or Mac after SCEP enrollment: it checks
// in and answers commands over the MDM protocol (Apple's "Check-in" and
// "Commands and Queries"), signing each body with its identity
// (Mdm-Signature, as SignMessage asks).
type AppleDevice struct {
	URL    string // the MDM ServerURL, for example http://127.0.0.1:8080/mdm
	Host   string // the tenant's hostname, when the URL's does not resolve
	Client *http.Client

	UDID, SerialNumber, Topic string
	Key                       *rsa.PrivateKey
	Cert                      *x509.Certificate

	PushMagic string
	Token     []byte
	OSVersion string

	// CertHeader, when set, sends the identity as a TLS-terminating proxy
	// would (RFC 9440: ":base64(DER):" in this header) instead of signing.
	CertHeader string
	// Unsigned sends no Mdm-Signature: the identity is the TLS client
	// certificate (Client must present it).
	Unsigned bool
	// AwaitingConfiguration is sent in TokenUpdate: the device enrolled
	// through ADE and waits in Setup Assistant for DeviceConfigured.
	AwaitingConfiguration bool
	// Binary sends binary property lists ("bplist00"), as Apple devices
	// may, instead of XML.
	Binary bool
}

// NewAppleDevice returns a device with identity key and cert.
func NewAppleDevice(url, host, topic string, key *rsa.PrivateKey, cert *x509.Certificate) *AppleDevice {
	b := make([]byte, 16)
	rand.Read(b)
	return &AppleDevice{URL: url, Host: host, Topic: topic, Key: key, Cert: cert,
		UDID: fmt.Sprintf("%X", b), SerialNumber: fmt.Sprintf("C02%X", b[:4]), PushMagic: fmt.Sprintf("magic-%x", b[4:8]),
		Token: append([]byte(nil), b...), OSVersion: "17.5"}
}

// Command is an MDM command as the device receives it.
type Command struct {
	CommandUUID string
	Command     struct {
		RequestType string
	}
	Raw []byte `plist:"-"`
}

// HTTPError is a non-200 answer.
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

func (d *AppleDevice) put(ctx context.Context, contentType string, msg any) ([]byte, error) {
	var body []byte
	var err error
	if d.Binary {
		body, err = bplist.Marshal(msg, bplist.BinaryFormat)
	} else {
		body, err = plist.Marshal(msg)
	}
	if err != nil {
		return nil, err
	}
	return d.PutRaw(ctx, contentType, body)
}

// PutRaw sends body, signed as the device, and returns the answer; a
// status other than 200 is an *HTTPError.
func (d *AppleDevice) PutRaw(ctx context.Context, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, d.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if d.Host != "" {
		req.Host = d.Host
	}
	req.Header.Set("Content-Type", contentType)
	if d.CertHeader != "" {
		req.Header.Set(d.CertHeader, ":"+base64.StdEncoding.EncodeToString(d.Cert.Raw)+":")
	} else if !d.Unsigned {
		sd, err := pkcs7.NewSignedData(body)
		if err != nil {
			return nil, err
		}
		if err := sd.AddSigner(d.Cert, d.Key, pkcs7.SignerInfoConfig{}); err != nil {
			return nil, err
		}
		sd.Detach()
		sig, err := sd.Finish()
		if err != nil {
			return nil, err
		}
		req.Header.Set("Mdm-Signature", base64.StdEncoding.EncodeToString(sig))
	}
	client := d.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 10<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPError{Status: resp.StatusCode, Body: string(bytes.TrimSpace(b))}
	}
	return b, nil
}

func (d *AppleDevice) checkin(ctx context.Context, msg map[string]any) error {
	_, err := d.checkinBody(ctx, msg)
	return err
}

func (d *AppleDevice) checkinBody(ctx context.Context, msg map[string]any) ([]byte, error) {
	msg["UDID"] = d.UDID
	msg["Topic"] = d.Topic
	return d.put(ctx, "application/x-apple-aspen-mdm-checkin", msg)
}

// Declarative sends a Declarative Management check-in to endpoint
// ("tokens", "declaration-items", "status") and returns the answer.
func (d *AppleDevice) Declarative(ctx context.Context, endpoint string, data []byte) ([]byte, error) {
	msg := map[string]any{"MessageType": "DeclarativeManagement", "Endpoint": endpoint}
	if data != nil {
		msg["Data"] = data
	}
	return d.checkinBody(ctx, msg)
}

// Authenticate is the first check-in of an enrollment.
func (d *AppleDevice) Authenticate(ctx context.Context) error {
	return d.checkin(ctx, map[string]any{"MessageType": "Authenticate", "SerialNumber": d.SerialNumber,
		"DeviceName": "Simulated iPhone", "Model": "MN123", "ModelName": "iPhone", "ProductName": "iPhone15,2",
		"OSVersion": d.OSVersion, "BuildVersion": "21F79"})
}

// TokenUpdate hands the server the device's push token.
func (d *AppleDevice) TokenUpdate(ctx context.Context) error {
	msg := map[string]any{"MessageType": "TokenUpdate", "PushMagic": d.PushMagic, "Token": d.Token,
		"UnlockToken": []byte("unlock-" + d.UDID)}
	if d.AwaitingConfiguration {
		msg["AwaitingConfiguration"] = true
	}
	return d.checkin(ctx, msg)
}

// CheckOut tells the server the MDM profile was removed.
func (d *AppleDevice) CheckOut(ctx context.Context) error {
	return d.checkin(ctx, map[string]any{"MessageType": "CheckOut"})
}

// Report sends a command report (status Idle for none) and returns the
// next command, or nil when the queue is empty.
func (d *AppleDevice) Report(ctx context.Context, commandUUID, status string, extra map[string]any) (*Command, error) {
	msg := map[string]any{"UDID": d.UDID, "Status": status}
	if commandUUID != "" {
		msg["CommandUUID"] = commandUUID
	}
	for k, v := range extra {
		msg[k] = v
	}
	b, err := d.put(ctx, "application/x-apple-aspen-mdm", msg)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return nil, err
	}
	c := new(Command)
	if err := plist.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("decode the command: %w", err)
	}
	c.Raw = b
	return c, nil
}

// Idle asks for the next command.
func (d *AppleDevice) Idle(ctx context.Context) (*Command, error) {
	return d.Report(ctx, "", "Idle", nil)
}

// Answer answers a command as a device would: DeviceInformation with its
// facts, others with just the status.
func (d *AppleDevice) Answer(ctx context.Context, c *Command, status string) (*Command, error) {
	extra := map[string]any{}
	if c.Command.RequestType == "DeviceInformation" && status == "Acknowledged" {
		extra["QueryResponses"] = map[string]any{"OSVersion": d.OSVersion, "SerialNumber": d.SerialNumber,
			"DeviceName": "Simulated iPhone", "ProductName": "iPhone15,2", "DeviceCapacity": 128.0,
			"AvailableDeviceCapacity": 64.5, "IsSupervised": true, "UDID": d.UDID}
	}
	if status == "Acknowledged" {
		switch c.Command.RequestType {
		case "SecurityInfo":
			extra["SecurityInfo"] = map[string]any{"HardwareEncryptionCaps": 3, "PasscodePresent": true, "PasscodeCompliant": true,
				"FirewallSettings": map[string]any{"FirewallEnabled": true}}
		case "InstalledApplicationList":
			extra["InstalledApplicationList"] = []map[string]any{
				{"Identifier": "com.example.notes", "Name": "Notes", "ShortVersion": "4.2", "BundleSize": 1000},
				{"Identifier": "com.example.mail", "Name": "Mail", "ShortVersion": "17.0", "BundleSize": 2000}}
		case "ProfileList":
			extra["ProfileList"] = []map[string]any{{"PayloadIdentifier": "com.trident.enrollment", "PayloadDisplayName": "Device management", "IsManaged": true}}
		}
	}
	if status == "Error" {
		extra["ErrorChain"] = []map[string]any{{"ErrorCode": 12021, "ErrorDomain": "MCMDMErrorDomain",
			"LocalizedDescription": "Simulated failure", "USEnglishDescription": "Simulated failure"}}
	}
	return d.Report(ctx, c.CommandUUID, status, extra)
}
