package devicesim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"

	"github.com/micromdm/plist"
	"github.com/smallstep/pkcs7"
)

// MachineInfo is what a device in Setup Assistant posts to its ADE
// profile's URL: a plist of its identifiers, CMS-signed with its device
// identity (here a self-signed key standing in for Apple's device
// certificate).
func MachineInfo(serial, udid string) ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	cert, err := selfSigned(key, "Apple iPhone Device "+udid)
	if err != nil {
		return nil, err
	}
	content, err := plist.Marshal(map[string]string{"UDID": udid, "SERIAL": serial, "PRODUCT": "iPhone15,2",
		"VERSION": "21F79", "OS_VERSION": "17.5", "LANGUAGE": "en"})
	if err != nil {
		return nil, err
	}
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		return nil, err
	}
	if err := sd.AddSigner(cert, key, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, err
	}
	return sd.Finish()
}

// ADEEnroll posts signed machine info to an ADE profile's URL (sent to
// url, with Host host) and returns the enrollment profile the server
// answers.
func ADEEnroll(ctx context.Context, url, host string, machineInfo []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(machineInfo))
	if err != nil {
		return nil, err
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Content-Type", "application/pkcs7-signature")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPError{Status: resp.StatusCode, Body: string(b)}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-apple-aspen-config" {
		return nil, fmt.Errorf("ADE enrollment answered %q, not a profile", ct)
	}
	return b, nil
}
