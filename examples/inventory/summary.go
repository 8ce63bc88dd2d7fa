package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/graphlite"
)

type summaryRow struct {
	tenant   string
	devices  int
	removed  int
	duration time.Duration
	attempts int
	err      error
}

type summary struct {
	rows    []summaryRow // in the order of the tenants given
	failed  int
	devices int
	began   time.Time
	took    time.Duration
}

func (s *summary) add(i int, r summaryRow) {
	s.rows[i] = r
	s.devices += r.devices
	if r.err != nil {
		s.failed++
	}
}

// write prints one line per tenant, then the totals.
func (s *summary) write(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tDEVICES\tTIME\tRESULT")
	for _, r := range s.rows {
		devices := fmt.Sprint(r.devices)
		if r.removed > 0 {
			devices += fmt.Sprintf(" (+%d removed)", r.removed)
		}
		result := "ok"
		if r.attempts > 1 {
			result = fmt.Sprintf("ok after %d attempts (throttled)", r.attempts)
		}
		if r.err != nil {
			devices = "-"
			result = explain(r.err, r.tenant)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.tenant, devices, r.duration.Round(time.Millisecond), result)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d tenants, %d read, %d failed, %d devices in %s\n",
		len(s.rows), len(s.rows)-s.failed, s.failed, s.devices, s.took.Round(time.Millisecond))
}

// explain says why a tenant failed and what fixes it: the AADSTS code and
// the fix for token failures (the admin-consent URL for AADSTS700016), the
// Graph status and code otherwise. The SDK's errors carry no token.
func explain(err error, tenant string) string {
	var ae *federated.AuthError
	var ge *graphlite.Error
	switch {
	case errors.As(err, &ae) && ae.HasCode(700016):
		return fmt.Sprintf("AADSTS700016: the app is not consented in this tenant. Fix: an administrator of the tenant opens %s/%s/adminconsent?client_id=%s",
			strings.TrimRight(ae.Authority, "/"), tenant, ae.ClientID)
	case errors.As(err, &ae) && len(ae.ErrorCodes) > 0:
		codes := make([]string, len(ae.ErrorCodes))
		for i, c := range ae.ErrorCodes {
			codes[i] = fmt.Sprintf("AADSTS%d", c)
		}
		return fmt.Sprintf("%s: %s. Fix: %s", strings.Join(codes, ","), ae.Message, orUnknown(ae.Hint))
	case errors.As(err, &ae):
		return fmt.Sprintf("token request failed (%d %s): %s", ae.StatusCode, ae.Code, orUnknown(ae.Hint))
	case errors.As(err, &ge):
		if throttled, _, _ := ge.Throttled(); throttled {
			return fmt.Sprintf("Graph %d %s: still throttled after the retries; run again later or lower -parallelism", ge.StatusCode, ge.Code)
		}
		return fmt.Sprintf("Graph %d %s. Fix: %s", ge.StatusCode, ge.Code, orUnknown(ge.Hint))
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out (-tenant-timeout): " + oneLine(err.Error())
	}
	return oneLine(err.Error())
}

func orUnknown(s string) string {
	if s == "" {
		return "see docs/troubleshooting.md"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
