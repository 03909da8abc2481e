// Certificates whose renewal is overdue: about 62 days without a successful renewal (certbot
// renews 90-day certificates at 60 days, plus 2 days' grace), per (domain, host). The seed's
// stateDuration check, for dashboards and for the Kapacitor task in
// deploy/kapacitor/certbot-renewal-overdue.tick. For InfluxDB 2.x, or 1.8+ with flux-enabled.
// Not executed in this project's CI: its InfluxDB 1.6.7 has no Flux (see docs/alerting.md).
//
// Corrected from the seed:
// - range 400d instead of 65d. With 65d a certificate that stops renewing for longer than the
//   window has no point left in it, vanishes from the result and its alert silently resolves:
//   exactly the certificate most in need of attention. 400 d > 398 d, the longest lifetime a
//   public certificate may have, so nothing still valid can fall out.
// - the threshold is 60, as the seed's Kapacitor variable says, not the 61 its text (and its
//   dashboard filter) used. stateDuration counts full days after the day of the renewal: -1 on
//   that day, 0 the day after, so 60 is reached on day 62.
//
// Still day-granular and not lifetime-aware (64- and 45-day certificates renew sooner); the
// relay's own evaluator is both, see docs/alerting.md.
// The seed's bucket: use the database your hooks write to ("certbot/autogen" in docs/deployment.md).
from(bucket: "telegraf/autogen")
    |> range(start: -400d)
    |> filter(fn: (r) => r._measurement == "certbot_renewal")
    |> filter(fn: (r) => r._field == "renewed_count")
    |> filter(fn: (r) => r.domain != "all")
    |> group(columns: ["domain", "host"])
    // one row per day; empty days become 0
    |> aggregateWindow(every: 1d, fn: sum, createEmpty: true)
    |> fill(value: 0.0)
    // days since the value was last >= 1
    |> stateDuration(fn: (r) => r._value < 1.0, unit: 1d)
    |> last()
    // Dashboards: only the overdue ones, in one table. Alerting must not filter: the Kapacitor
    // task needs the rows below the threshold too, or it never sees a recovery.
    |> filter(fn: (r) => r.stateDuration >= 60)
    |> group()
