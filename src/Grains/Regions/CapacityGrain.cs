using Microsoft.Extensions.Options;

namespace VoiceActors.Regions;

/// <summary>
/// One region's load, aggregated from its silos' periodic reports (each silo's <c>SiloSessionLoad</c> is the one count).
/// Kept in memory on purpose: after a restart the next round of reports, one period later, rebuilds it exactly.
/// </summary>
public sealed class CapacityGrain(TimeProvider clock, IOptions<RegionHealthOptions> options) : Grain, ICapacityGrain
{
    private readonly Dictionary<string, SiloLoadReport> _silos = new(StringComparer.Ordinal);
    private string Region => this.GetPrimaryKeyString();

    Task ICapacityGrain.Report(SiloLoadReport report)
    {
        if (!string.Equals(report.Region, Region, StringComparison.Ordinal))
            throw new RequestValidationException("region", $"silo {report.Silo} reported for {report.Region} to the capacity of {Region}");
        _silos[report.Silo] = report;
        return Task.CompletedTask;
    }

    Task ICapacityGrain.Leave(string silo)
    {
        _silos.Remove(silo);
        return Task.CompletedTask;
    }

    Task<RegionCapacity> ICapacityGrain.Get()
    {
        var now = clock.GetUtcNow();
        var expired = new List<string>();
        int active = 0, capacity = 0, waiting = 0;
        var silos = new List<SiloLoadReport>(_silos.Count);
        foreach (var (silo, r) in _silos)
        {
            if (now - r.At > options.Value.SiloReportExpiry) { expired.Add(silo); continue; }
            silos.Add(r);
            active += r.ActiveSessions;
            waiting += r.RoomsWithoutAgent;
            if (!r.Draining) capacity += r.Capacity; // a draining silo still hosts sessions but admits none
        }
        foreach (var silo in expired) _silos.Remove(silo);
        return Task.FromResult(new RegionCapacity(Region, silos, active, capacity, waiting, now));
    }
}
