package retryafter

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	date := func(t time.Time) string { return t.UTC().Format(http.TimeFormat) }
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
		wantOK bool
	}{
		{"none", http.Header{}, 0, false},
		{"nil header", nil, 0, false},
		{"seconds", http.Header{"Retry-After": {"7"}}, 7 * time.Second, true},
		{"seconds with spaces", http.Header{"Retry-After": {" 3 "}}, 3 * time.Second, true},
		{"zero", http.Header{"Retry-After": {"0"}}, 0, true},
		{"negative seconds", http.Header{"Retry-After": {"-5"}}, 0, false},
		{"plus sign", http.Header{"Retry-After": {"+2"}}, 0, false},
		{"exactly Max", http.Header{"Retry-After": {"86400"}}, Max, true},
		{"over Max", http.Header{"Retry-After": {"86401"}}, Max, true},
		{"overflows Duration", http.Header{"Retry-After": {"18446744074"}}, Max, true},
		{"MaxInt64", http.Header{"Retry-After": {"9223372036854775807"}}, Max, true},
		{"beyond uint64", http.Header{"Retry-After": {"99999999999999999999999"}}, Max, true},
		{"very negative", http.Header{"Retry-After": {"-99999999999999999999999"}}, 0, false},
		{"fraction", http.Header{"Retry-After": {"1.5"}}, 0, false},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0, false},
		{"sign only", http.Header{"Retry-After": {"-"}}, 0, false},
		{"date in the future", http.Header{"Retry-After": {date(now.Add(90 * time.Second))}}, 90 * time.Second, true},
		{"date in the past", http.Header{"Retry-After": {date(now.Add(-time.Hour))}}, 0, true},
		{"date far ahead", http.Header{"Retry-After": {date(now.AddDate(5, 0, 0))}}, Max, true},
		{"RFC 850 date", http.Header{"Retry-After": {"Friday, 01-May-26 12:00:30 GMT"}}, 30 * time.Second, true},
		{"ms", http.Header{"Retry-After-Ms": {"250"}}, 250 * time.Millisecond, true},
		{"x-ms ms", http.Header{"X-Ms-Retry-After-Ms": {"1500"}}, 1500 * time.Millisecond, true},
		{"ms negative", http.Header{"Retry-After-Ms": {"-1"}}, 0, false},
		// issue 11, finding 6: a negative Retry-After-Ms was a 0 s wait and
		// hid the server's valid Retry-After; it is ignored instead.
		{"ms negative falls back to seconds", http.Header{"Retry-After-Ms": {"-1"}, "Retry-After": {"9"}}, 9 * time.Second, true},
		{"ms overflow beyond uint64", http.Header{"Retry-After-Ms": {"99999999999999999999999"}}, Max, true},
		{"ms overflow", http.Header{"Retry-After-Ms": {"9223372036854775807"}}, Max, true},
		{"ms over Max", http.Header{"X-Ms-Retry-After-Ms": {"86400001"}}, Max, true},
		{"ms date is not ms", http.Header{"Retry-After-Ms": {date(now.Add(time.Minute))}}, 0, false},
		{"ms wins over seconds", http.Header{"Retry-After-Ms": {"100"}, "Retry-After": {"9"}}, 100 * time.Millisecond, true},
		{"Retry-After-Ms wins over X-Ms", http.Header{"Retry-After-Ms": {"100"}, "X-Ms-Retry-After-Ms": {"200"}}, 100 * time.Millisecond, true},
		{"garbage ms falls through", http.Header{"Retry-After-Ms": {"x"}, "Retry-After": {"4"}}, 4 * time.Second, true},
		{"lower-case name", http.Header{http.CanonicalHeaderKey("retry-after-ms"): {"5"}}, 5 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Parse(tt.header, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Parse(%v) = %v, %v; want %v, %v", tt.header, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestCapped(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		limit  time.Duration
		want   time.Duration
		wantOK bool
	}{
		{"under the cap", http.Header{"Retry-After": {"3"}}, 30 * time.Second, 3 * time.Second, true},
		{"over the cap", http.Header{"Retry-After": {"3600"}}, 30 * time.Second, 30 * time.Second, true},
		{"overflow capped", http.Header{"Retry-After": {"18446744074"}}, time.Minute, time.Minute, true},
		{"negative cap is zero", http.Header{"Retry-After": {"3"}}, -time.Second, 0, true},
		{"absent", http.Header{}, time.Minute, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Capped(tt.header, now, tt.limit)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Capped(%v, %v) = %v, %v; want %v, %v", tt.header, tt.limit, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// issue 11, finding 6: azcore's retry policy multiplied an overflowing
// Retry-After into a short wait; Normalize hands it the clamped value.
func TestNormalize(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		h    http.Header
		want http.Header
	}{
		{"overflowing seconds", http.Header{"Retry-After": {"18446744074"}}, http.Header{"Retry-After-Ms": {"86400000"}}},
		{"seconds", http.Header{"Retry-After": {"3"}}, http.Header{"Retry-After-Ms": {"3000"}}},
		{"negative ms falls back to seconds", http.Header{"Retry-After-Ms": {"-1"}, "Retry-After": {"2"}}, http.Header{"Retry-After-Ms": {"2000"}}},
		{"x-ms overflow", http.Header{"X-Ms-Retry-After-Ms": {"99999999999999999999"}}, http.Header{"Retry-After-Ms": {"86400000"}}},
		{"garbage removed", http.Header{"Retry-After": {"soon"}, "Other": {"x"}}, http.Header{"Other": {"x"}}},
		{"none", http.Header{}, http.Header{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Normalize(tt.h, now)
			if diff := cmp.Diff(tt.want, tt.h); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
