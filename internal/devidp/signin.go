package devidp

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
)

var reAuthRequest = regexp.MustCompile(`name="auth_request" value="([^"]*)"`)

// SignIn plays a person signing in to a page that sends them to this
// provider's login form: it fills in the form and follows the
// redirects back. client must keep cookies. It answers the last page.
func SignIn(client *http.Client, start, user, password string) (int, string, error) {
	resp, err := client.Get(start)
	if err != nil {
		return 0, "", err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := reAuthRequest.FindStringSubmatch(string(page))
	if resp.StatusCode != http.StatusOK || m == nil {
		return resp.StatusCode, string(page), fmt.Errorf("%s did not lead to the identity provider's login form (HTTP %d)", start, resp.StatusCode)
	}
	login := resp.Request.URL.ResolveReference(&url.URL{Path: "/login"})
	r2, err := client.PostForm(login.String(), url.Values{"auth_request": {m[1]}, "username": {user}, "password": {password}})
	if err != nil {
		return 0, "", err
	}
	defer r2.Body.Close()
	b, _ := io.ReadAll(r2.Body)
	return r2.StatusCode, string(b), nil
}
