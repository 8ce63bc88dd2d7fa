package assertion

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestIMDSSelectors(t *testing.T) {
	base := url.Values{"api-version": {"2018-02-01"}, "resource": {"api://AzureADTokenExchange"}}
	with := func(k, v string) url.Values {
		q := url.Values{}
		for k, v := range base {
			q[k] = v
		}
		q.Set(k, v)
		return q
	}
	cases := []struct {
		name      string
		opts      IMDSOptions
		wantQuery url.Values
		wantID    string
	}{
		{"system-assigned", IMDSOptions{}, base, "system-assigned"},
		{"client ID", IMDSOptions{ClientID: "cid"}, with("client_id", "cid"), "client_id=cid"},
		{"object ID", IMDSOptions{ObjectID: "oid"}, with("object_id", "oid"), "object_id=oid"},
		{"resource ID", IMDSOptions{ResourceID: "/subscriptions/s/rg/u"}, with("msi_res_id", "/subscriptions/s/rg/u"), "msi_res_id=/subscriptions/s/rg/u"},
		{"China resource", IMDSOptions{Resource: ResourceAzureChina}, url.Values{"api-version": {"2018-02-01"}, "resource": {"api://AzureADTokenExchangeChina"}}, "system-assigned"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearIdentityEnv(t)
			fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) { imdsJSON(w, "1506484173") })
			opts := tc.opts
			opts.Endpoint = fake.URL + "/" // a trailing slash is tolerated
			opts.Transport = fake.Client()
			src, err := IMDS(&opts)
			if err != nil {
				t.Fatal(err)
			}
			a, err := src.Assertion(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if a.Token != testToken || !a.ExpiresOn.Equal(time.Unix(1506484173, 0)) {
				t.Errorf("assertion has the wrong token or ExpiresOn %v", a.ExpiresOn)
			}
			reqs := fake.requests()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs))
			}
			if diff := cmp.Diff(tc.wantQuery, reqs[0].Query); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
			if reqs[0].Path != "/metadata/identity/oauth2/token" {
				t.Errorf("path = %q", reqs[0].Path)
			}
			if reqs[0].Header.Get("Metadata") != "true" {
				t.Error("request lacks Metadata: true")
			}
			if reqs[0].Header.Get("X-Identity-Header") != "" {
				t.Error("IMDS request carries an App Service header")
			}
			want := "assertion.IMDS(" + fake.URL + "/metadata/identity/oauth2/token, " + tc.wantID + ")"
			if got := src.(interface{ String() string }).String(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
		})
	}
}

func TestIMDSEndpointResolution(t *testing.T) {
	cases := []struct {
		name, option, env, want string
	}{
		{"default", "", "", "assertion.IMDS(http://169.254.169.254/metadata/identity/oauth2/token, system-assigned)"},
		{"pod identity host", "", "http://10.0.0.9:2579", "assertion.IMDS(http://10.0.0.9:2579/metadata/identity/oauth2/token, system-assigned)"},
		{"option wins", "http://127.0.0.1:9/", "http://10.0.0.9:2579", "assertion.IMDS(http://127.0.0.1:9/metadata/identity/oauth2/token, system-assigned)"},
		{"user info hidden", "http://user:pw@127.0.0.1:9", "", "assertion.IMDS(http://127.0.0.1:9/metadata/identity/oauth2/token, system-assigned)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearIdentityEnv(t)
			t.Setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", tc.env)
			src, err := IMDS(&IMDSOptions{Endpoint: tc.option})
			if err != nil {
				t.Fatal(err)
			}
			if got := src.(interface{ String() string }).String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := IMDS(&IMDSOptions{Endpoint: "169.254.169.254"}); err == nil {
		t.Error("an endpoint without scheme was accepted")
	}
	if _, err := IMDS(&IMDSOptions{ClientID: "a", ObjectID: "b"}); err == nil {
		t.Error("two selectors were accepted")
	}
}

func TestIMDSIdentityNotFoundIsFinal(t *testing.T) {
	fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_request","error_description":"Identity not found"}`))
	})
	src, err := IMDS(&IMDSOptions{Endpoint: fake.URL, ObjectID: "obj-42", Transport: fake.Client()})
	if err != nil {
		t.Fatal(err)
	}
	delays := waits(t, src)
	_, err = src.Assertion(context.Background())
	var re *ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error = %v, want *ResponseError", err)
	}
	if re.Identity != "object_id=obj-42" || !strings.Contains(re.Hint, "object_id=obj-42 is not assigned") {
		t.Errorf("error does not say which identity was asked for: %v", err)
	}
	if len(delays()) != 0 || len(fake.requests()) != 1 {
		t.Errorf("identity not found was retried")
	}
}

func TestIMDSWarmUp(t *testing.T) {
	// IMDS answers 410 while it updates, then serves tokens.
	fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n < 3 {
			w.WriteHeader(http.StatusGone)
			return
		}
		imdsJSON(w, "1506484173")
	})
	src, err := IMDS(&IMDSOptions{Endpoint: fake.URL, Transport: fake.Client()})
	if err != nil {
		t.Fatal(err)
	}
	delays := waits(t, src)
	if _, err := src.Assertion(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, delays()); diff != "" {
		t.Errorf("delays (-want +got):\n%s", diff)
	}
}
