namespace VoiceActors.Sessions;

/// <summary>Moving a live session: a draining silo and region failover are the callers.</summary>
[Alias("va.ISessionOperationsGrain")]
public interface ISessionOperationsGrain : IGrainWithStringKey
{
    /// <summary>Drain: a live session on <paramref name="fromSilo"/> migrates to another silo of its region once idle. Returns the silo it is on now.</summary>
    [Alias("Relocate")]
    Task<string?> Relocate(string fromSilo, string reason);

    /// <summary>Its region went down: the session moves to the target region and publishes a reconnect directive (null if it was not in that region).</summary>
    [Alias("FailOver")]
    Task<Regions.ReconnectDirective?> FailOver(Regions.RegionFailover failover);

    /// <summary>Wake-on-death: its silo was declared dead; the call activates the session on a survivor, which resumes it from storage.</summary>
    [Alias("Wake")]
    Task Wake();
}
