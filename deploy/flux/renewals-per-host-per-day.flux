// Renewals per host per day over the last 120 days: a host-wide failure shows as a gap across all
// of that host's certificates. The seed's second query, from the hook's per-host total
// (domain == "all"). For InfluxDB 2.x, or 1.8+ with flux-enabled. Not executed in this project's
// CI (its InfluxDB 1.6.7 has no Flux); the tested InfluxQL twin is
// deploy/influxql/renewals-per-host-per-day.influxql.
//
// Changed from the seed: days without a renewal are 0 instead of null (createEmpty: true leaves
// sum() of an empty window null), so a graph draws them instead of a gap.
// The seed's bucket: use the database your hooks write to ("certbot/autogen" in docs/deployment.md).
from(bucket: "telegraf/autogen")
    |> range(start: -120d)
    |> filter(fn: (r) => r._measurement == "certbot_renewal")
    |> filter(fn: (r) => r._field == "renewed_count")
    |> filter(fn: (r) => r.domain == "all")
    |> group(columns: ["host"])
    |> aggregateWindow(every: 1d, fn: sum, createEmpty: true)
    |> fill(value: 0.0)
