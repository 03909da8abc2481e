// The age of every certificate's last successful renewal, per (domain, host), oldest first:
// the seed's at-a-glance table. For InfluxDB 2.x, or 1.8+ with flux-enabled (bucket "db/rp").
// Not executed in this project's CI: its InfluxDB 1.6.7 has no Flux (see docs/alerting.md).
//
// Corrected from the seed:
// - its map() was never closed: the record ends in "})" and the call in ")", hence "}))" below.
// - range 400d instead of 120d: a certificate that stopped renewing stays in the table instead of
//   vanishing once its last point leaves the window (400 d > 398 d, the longest lifetime a public
//   certificate may have, so anything older is long expired).
// - host is kept: the same domain can be renewed on several hosts, each its own certificate.
query_time = uint(v: now())

// The seed's bucket: use the database your hooks write to ("certbot/autogen" in docs/deployment.md).
from(bucket: "telegraf/autogen")
    |> range(start: -400d)
    |> filter(fn: (r) => r._measurement == "certbot_renewal")
    |> filter(fn: (r) => r._field == "renewed_count")
    |> filter(fn: (r) => r.domain != "all")
    |> last()
    |> map(fn: (r) => ({
        domain: r.domain,
        host: r.host,
        last_renewal: r._time,
        age_days: float(v: (query_time - uint(v: r._time)) / uint(v: 1000000000)) / 86400.0
    }))
    |> group()
    |> sort(columns: ["age_days"], desc: true)
