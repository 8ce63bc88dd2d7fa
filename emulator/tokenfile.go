package emulator

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// defaultWorkloadTokenLifetime is what AKS projects by default
// (serviceAccountToken expirationSeconds 3600).
const defaultWorkloadTokenLifetime = time.Hour

// tokenFileRotator keeps a projected service-account token file fresh, as the
// kubelet does for AKS workload identity: it rewrites the file (atomically, so
// a reader never sees half a token) when 80% of the token's lifetime has
// passed. Readers such as assertion.WorkloadFile and azidentity re-read the
// file, so a long test run never presents an expired assertion.
type tokenFileRotator struct {
	path     string
	lifetime time.Duration
	issue    func() (string, error)
	// after is time.After; tests pass a channel they control instead of
	// waiting for the lifetime to pass.
	after func(time.Duration) <-chan time.Time
}

// rotateFraction is when the kubelet refreshes a projected token: at 80% of
// its lifetime (Kubernetes "service account token volume projection").
const rotateFraction = 0.8

func (r *tokenFileRotator) interval() time.Duration {
	return time.Duration(float64(r.lifetime) * rotateFraction)
}

// write issues a token and writes it to the file, readable by its owner only.
func (r *tokenFileRotator) write() error {
	tok, err := r.issue()
	if err != nil {
		return err
	}
	return writeFileAtomic(r.path, []byte(tok), 0o600)
}

// run rewrites the file every interval until ctx ends. A failed write is
// reported and retried at the next tick; the old token stays valid until then.
func (r *tokenFileRotator) run(ctx context.Context, report func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.after(r.interval()):
			if err := r.write(); err != nil {
				report(err)
			}
		}
	}
}

// workloadSubject finds the external issuer and subject that a federated
// credential of app trusts: the token file must carry exactly those.
func workloadSubject(idp *fakeidp.Server, app fakeidp.App) (issuer, subject string, err error) {
	sc := idp.Scenario()
	for _, is := range sc.Issuers {
		url := idp.IssuerURL(is.Name)
		for _, a := range sc.Apps {
			if a.ClientID != app.ClientID {
				continue
			}
			for _, f := range a.FederatedCredentials {
				if f.Issuer == url && slices.Contains(f.Audiences, fakeidp.TokenExchangeAudience) {
					return is.Name, f.Subject, nil
				}
			}
		}
	}
	return "", "", fmt.Errorf("emulator: workload mode: no federated credential of app %s trusts one of the scenario's issuers with audience %s; add an issuer and a credential with issuer \"{authority}/issuers/NAME\"",
		app.ClientID, fakeidp.TokenExchangeAudience)
}
