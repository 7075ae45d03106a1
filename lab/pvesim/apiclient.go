package pvesim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// apiClient is the part of PVE::APIClient::LWP a join uses: fingerprint pinning or the
// interactive question, ticket login, GET and POST.
type apiClient struct {
	env          *Env
	host         string
	http         *http.Client
	manualVerify bool
	trusted      map[string]bool
	lastUnknown  string
	ticket       string
}

func newAPIClient(e *Env, host, fingerprint string) *apiClient {
	c := &apiClient{env: e, host: host, trusted: map[string]bool{}}
	if fingerprint != "" {
		c.trusted[strings.ToUpper(fingerprint)] = true
	} else {
		c.manualVerify = true
	}
	// LWP's timeout is 60 s; PVESIM_API_TIMEOUT (seconds) shortens it for tests.
	timeout := 60 * time.Second
	if seconds, err := strconv.Atoi(os.Getenv("PVESIM_API_TIMEOUT")); err == nil && seconds > 0 {
		timeout = time.Duration(seconds) * time.Second
	}
	dialer := &net.Dialer{Timeout: timeout}
	c.http = &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext: dialer.DialContext,
			TLSClientConfig: &tls.Config{
				InsecureSkipVerify: true, // verified below, by fingerprint, like verify_cert_callback
				VerifyPeerCertificate: func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
					if len(rawCerts) == 0 {
						return errors.New("no certificate")
					}
					fp := Fingerprint(rawCerts[0])
					if c.trusted[fp] {
						return nil
					}
					c.lastUnknown = fp
					return errors.New("certificate verify failed")
				},
			},
			DisableKeepAlives: true,
		},
	}
	return c
}

// apiResponse is a decoded reply or a transport failure, shaped like an LWP response.
type apiResponse struct {
	code    int
	message string
	data    json.RawMessage
	errors  map[string]string
}

func (r *apiResponse) ok() bool { return r.code >= 200 && r.code < 300 }

func (r *apiResponse) statusLine() string { return fmt.Sprintf("%d %s", r.code, r.message) }

func (c *apiClient) do(ctx context.Context, method, path string, form url.Values) *apiResponse {
	target := url.URL{Scheme: "https", Host: net.JoinHostPort(c.host, c.env.apiPort()), Path: "/api2/json" + path}
	var body io.Reader
	if method == http.MethodGet {
		target.RawQuery = form.Encode()
	} else {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), body)
	if err != nil {
		return &apiResponse{code: 500, message: err.Error()}
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.ticket != "" {
		req.AddCookie(&http.Cookie{Name: "PVEAuthCookie", Value: c.ticket})
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &apiResponse{code: 500, message: fmt.Sprintf("Can't connect to %s (%s)", target.Host, connectError(err))}
	}
	defer resp.Body.Close()
	var decoded struct {
		Data    json.RawMessage   `json:"data"`
		Message string            `json:"message"`
		Errors  map[string]string `json:"errors"`
	}
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &decoded)
	message := strings.TrimSuffix(decoded.Message, "\n")
	if message == "" {
		message = http.StatusText(resp.StatusCode)
	}
	return &apiResponse{code: resp.StatusCode, message: message, data: decoded.Data, errors: decoded.Errors}
}

// connectError words a dial failure the way Perl's $! does.
func connectError(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		text := errno.Error()
		return strings.ToUpper(text[:1]) + text[1:]
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "Connection timed out"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "Name or service not known"
	}
	if strings.Contains(err.Error(), "certificate verify failed") {
		return "certificate verify failed"
	}
	return err.Error()
}

// verifyFingerprint is manual_verify_fingerprint.
func (c *apiClient) verifyFingerprint(fp string) error {
	if !c.manualVerify {
		return &APIError{Message: fmt.Sprintf("fingerprint '%s' not verified, abort!\n", fp)}
	}
	c.env.outf("The authenticity of host '%s' can't be established.\nX509 SHA256 key fingerprint is %s.\nAre you sure you want to continue connecting (yes/no)? ", c.host, fp)
	answer, _ := c.env.stdin().ReadString('\n')
	if !yesAnswer.MatchString(answer) {
		return &APIError{Message: "Fingerprint not verified, abort!\n"}
	}
	c.trusted[fp] = true
	return nil
}

var yesAnswer = regexp.MustCompile(`(?i)^\s*yes\s*$`)

// login is POST /access/ticket as root@pam.
func (c *apiClient) login(ctx context.Context, password string) error {
	form := url.Values{"username": {"root@pam"}, "password": {password}}
	c.lastUnknown = ""
	resp := c.do(ctx, http.MethodPost, "/access/ticket", form)
	if !resp.ok() && c.lastUnknown != "" {
		fp := c.lastUnknown
		c.lastUnknown = ""
		if err := c.verifyFingerprint(fp); err != nil {
			return err
		}
		resp = c.do(ctx, http.MethodPost, "/access/ticket", form)
	}
	if !resp.ok() {
		return &APIError{Code: resp.code, Message: resp.statusLine() + "\n"}
	}
	var data struct {
		Ticket string `json:"ticket"`
	}
	if err := json.Unmarshal(resp.data, &data); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	c.ticket = data.Ticket
	return nil
}

// call is GET/POST after login; a failure is an APIError carrying the reply's message
// and errors, as PVE::APIClient::Exception does.
func (c *apiClient) call(ctx context.Context, method, path string, form url.Values, out any) error {
	c.lastUnknown = ""
	resp := c.do(ctx, method, path, form)
	if c.lastUnknown != "" {
		fp := c.lastUnknown
		c.lastUnknown = ""
		if err := c.verifyFingerprint(fp); err != nil {
			return err
		}
		resp = c.do(ctx, method, path, form)
	}
	if !resp.ok() {
		return &APIError{Code: resp.code, Message: resp.message + "\n", Errors: resp.errors}
	}
	if out != nil {
		if err := json.Unmarshal(resp.data, out); err != nil {
			return fmt.Errorf("decode %s: %w", path, err)
		}
	}
	return nil
}
