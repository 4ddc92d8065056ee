using System.Collections.Concurrent;

namespace VoiceActors.Regions;

/// <summary>
/// This silo's copy of the regional picture (directory + every region's capacity), refreshed by <see cref="RegionViewRefresher"/>.
/// Admission and placement read it without a grain call, which is what keeps creates from queueing on one activation.
/// </summary>
public sealed class RegionView
{
    private volatile Snapshot _current = Snapshot.Empty;
    private readonly ConcurrentDictionary<string, int> _placedSinceRefresh = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _admittedSinceRefresh = new(StringComparer.Ordinal);
    private volatile bool _localDraining;

    public RegionDirectoryView? Directory => _current.Directory;
    public bool IsLoaded => _current.Directory is not null;

    /// <summary>Set when this silo starts draining: it takes no new sessions and reports no capacity.</summary>
    public bool LocalDraining
    {
        get => _localDraining;
        set => _localDraining = value;
    }

    public void Apply(RegionDirectoryView directory, IReadOnlyList<RegionCapacity> capacities)
    {
        var byRegion = new Dictionary<string, RegionCapacity>(StringComparer.Ordinal);
        var bySilo = new Dictionary<string, SiloLoadReport>(StringComparer.Ordinal);
        foreach (var c in capacities)
        {
            byRegion[c.Region] = c;
            foreach (var s in c.Silos) bySilo[s.Silo] = s;
        }
        _current = new Snapshot(directory, byRegion, bySilo);
        // Fresh reports already contain what was placed and admitted before them.
        _placedSinceRefresh.Clear();
        _admittedSinceRefresh.Clear();
    }

    /// <summary>The region's capacity as last reported, with the admissions this silo made since then added (other silos' are unseen for one period; the session's own check on its silo is exact).</summary>
    public RegionCapacity Capacity(string region)
    {
        var snapshot = _current;
        var c = snapshot.Regions.TryGetValue(region, out var found) ? found : RegionCapacity.Empty(region, DateTimeOffset.MinValue);
        var admitted = _admittedSinceRefresh.TryGetValue(region, out var n) ? n : 0;
        return admitted == 0 ? c : c with { ActiveSessions = c.ActiveSessions + admitted };
    }

    public void NoteAdmitted(string region) => _admittedSinceRefresh.AddOrUpdate(region, 1, static (_, n) => n + 1);

    public SiloLoadReport? Silo(string silo) => _current.Silos.TryGetValue(silo, out var r) ? r : null;

    /// <summary>Sessions placed on a silo since the last refresh, so a burst spreads instead of piling onto the silo that looked emptiest.</summary>
    public int PlacedSinceRefresh(string silo) => _placedSinceRefresh.TryGetValue(silo, out var n) ? n : 0;

    public void NotePlaced(string silo) => _placedSinceRefresh.AddOrUpdate(silo, 1, static (_, n) => n + 1);

    /// <summary>True when a silo of the region (other than <paramref name="except"/>) reported recently and is not draining.</summary>
    public bool HasServingSilo(string region, string? except = null)
    {
        if (!_current.Regions.TryGetValue(region, out var c)) return false;
        foreach (var s in c.Silos) if (!s.Draining && s.Silo != except) return true;
        return false;
    }

    /// <summary>True when any silo other than <paramref name="except"/> can take sessions (a drain with nowhere to go is pointless churn).</summary>
    public bool HasOtherServingSilo(string except)
    {
        foreach (var s in _current.Silos.Values) if (!s.Draining && s.Silo != except) return true;
        return false;
    }

    private sealed record Snapshot(
        RegionDirectoryView? Directory,
        Dictionary<string, RegionCapacity> Regions,
        Dictionary<string, SiloLoadReport> Silos)
    {
        public static readonly Snapshot Empty = new(null, new(StringComparer.Ordinal), new(StringComparer.Ordinal));
    }
}
