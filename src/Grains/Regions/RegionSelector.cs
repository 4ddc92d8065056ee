using System.Globalization;

namespace VoiceActors.Regions;

/// <summary>
/// Region selection as a pure function of the directory view and the regions' capacity, so admission (on every silo)
/// and failover decide the same way and tests can check every rule without a cluster.
/// </summary>
public static class RegionSelector
{
    /// <summary>A round trip longer than a minute is not a measurement but a broken client.</summary>
    public const double MaxPingMs = 60_000;

    public static RegionAdmission Select(RegionDirectoryView view, Func<string, RegionCapacity> capacity, AdmissionRequest request, int retryAfterSeconds)
    {
        var unknown = new List<string>();
        var pinged = new List<(string Region, double Ms)>();
        if (request.RegionPings is { } pings)
        {
            foreach (var (region, ms) in pings)
            {
                if (!double.IsFinite(ms) || ms < 0 || ms > MaxPingMs)
                    throw new RequestValidationException($"regionPings.{region}", $"must be a round-trip time in milliseconds between 0 and {MaxPingMs} (got {ms.ToString(CultureInfo.InvariantCulture)})");
                if (view.Find(region) is null) unknown.Add(region);
                else pinged.Add((region, ms));
            }
        }
        pinged.Sort(static (a, b) => a.Ms != b.Ms ? a.Ms.CompareTo(b.Ms) : string.CompareOrdinal(a.Region, b.Region));

        var anyHealthy = false;
        foreach (var r in view.Regions) anyHealthy |= r.Healthy;
        if (!anyHealthy) throw new NoHealthyRegionException(retryAfterSeconds);

        string first;
        string basis;
        var order = new List<string>();
        if (pinged.Count > 0)
        {
            foreach (var (region, _) in pinged) order.Add(region);
            first = pinged[0].Region;
            basis = "lowest round-trip time";
        }
        else
        {
            var tenantHome = TenantHome(view, request.TenantId);
            first = tenantHome ?? Primary(view);
            basis = tenantHome is null ? "configured primary region" : $"home region of tenant {request.TenantId}";
            order.Add(first);
        }
        AppendFallbacks(view, first, order);

        var skipped = new List<string>();
        foreach (var region in order)
        {
            var info = view.Find(region)!;
            var load = capacity(region);
            if (!info.Healthy) { skipped.Add($"{region} is down ({info.HealthReason})"); continue; }
            if (load.Headroom <= 0) { skipped.Add($"{region} is full ({load.ActiveSessions}/{load.Capacity})"); continue; }
            return new RegionAdmission(region, Reason(region, basis, first, pinged, skipped, unknown), info.LiveKitUrl);
        }
        var preferred = capacity(first);
        throw new RegionCapacityExceededException(first, preferred.ActiveSessions, preferred.Capacity, retryAfterSeconds);
    }

    /// <summary>Where the live sessions of a region that went down go: its fallbacks first, then any healthy region; fullness does not stop a move (a live interview beats the limit).</summary>
    public static RegionInfo? FailoverTarget(RegionDirectoryView view, Func<string, RegionCapacity> capacity, string from)
    {
        var order = new List<string>();
        AppendFallbacks(view, from, order);
        RegionInfo? healthyButFull = null;
        foreach (var region in order)
        {
            if (region == from) continue;
            var info = view.Find(region)!;
            if (!info.Healthy) continue;
            if (capacity(region).Headroom > 0) return info;
            healthyButFull ??= info;
        }
        return healthyButFull;
    }

    private static string Reason(string chosen, string basis, string first, List<(string Region, double Ms)> pinged, List<string> skipped, List<string> unknown)
    {
        var reason = chosen == first ? basis : $"fallback from {first} ({basis})";
        foreach (var (region, ms) in pinged)
            if (region == chosen) { reason += $": {ms.ToString("0.#", CultureInfo.InvariantCulture)} ms"; break; }
        if (skipped.Count > 0) reason += "; skipped " + string.Join(", ", skipped);
        if (unknown.Count > 0) reason += "; ignored unknown regions " + string.Join(", ", unknown);
        return reason;
    }

    private static void AppendFallbacks(RegionDirectoryView view, string from, List<string> order)
    {
        if (view.Find(from) is { } info)
            foreach (var f in info.Fallback)
                if (!order.Contains(f) && view.Find(f) is not null) order.Add(f);
        foreach (var r in view.Regions)
            if (!order.Contains(r.Name)) order.Add(r.Name);
    }

    private static string? TenantHome(RegionDirectoryView view, string tenant)
    {
        foreach (var r in view.Regions)
            foreach (var t in r.Tenants)
                if (string.Equals(t, tenant, StringComparison.Ordinal)) return r.Name;
        return null;
    }

    private static string Primary(RegionDirectoryView view)
    {
        foreach (var r in view.Regions) if (r.Primary) return r.Name;
        return view.Regions[0].Name;
    }
}
