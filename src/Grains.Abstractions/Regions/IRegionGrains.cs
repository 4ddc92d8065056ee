namespace VoiceActors.Regions;

/// <summary>The cluster's regions and their health. One activation, key <see cref="Key"/>; read through each silo's cached view, not per request.</summary>
[Alias("va.IRegionDirectoryGrain")]
public interface IRegionDirectoryGrain : IGrainWithStringKey
{
    public const string Key = "regions";

    [Alias("GetView")]
    Task<RegionDirectoryView> GetView();

    /// <summary>Operator override: <see cref="RegionHealthMode.Down"/> skips the region for new sessions and moves its live ones; <see cref="RegionHealthMode.Auto"/> hands back to the probes.</summary>
    [Alias("SetHealth")]
    Task<RegionInfo> SetHealth(string region, RegionHealthMode mode, string reason);
}

/// <summary>Active sessions, capacity and rooms without an agent of one region (key: the region name), per silo and in total.</summary>
[Alias("va.ICapacityGrain")]
public interface ICapacityGrain : IGrainWithStringKey
{
    [Alias("Report")]
    Task Report(SiloLoadReport report);

    [Alias("Get")]
    Task<RegionCapacity> Get();

    /// <summary>A silo shutting down withdraws its report, so the region stops counting it at once instead of after the report expiry.</summary>
    [Alias("Leave")]
    Task Leave(string silo);
}

/// <summary>
/// Region selection and admission for new interviews. A stateless worker reading the silo's cached regional view,
/// so creates scale with silos instead of queueing on one activation. Use key 0.
/// </summary>
[Alias("va.IRegionAdmissionGrain")]
public interface IRegionAdmissionGrain : IGrainWithIntegerKey
{
    /// <summary>Picks the region; throws <see cref="RegionCapacityExceededException"/> or <see cref="NoHealthyRegionException"/> when it must refuse.</summary>
    [Alias("Admit")]
    Task<RegionAdmission> Admit(AdmissionRequest request);
}

/// <summary>Names both sides agree on: the request-context key that tells placement which region a session belongs to.</summary>
public static class RegionContext
{
    /// <summary>Set around a session's first call (and by the session before it migrates): the region to place it in.</summary>
    public const string RegionKey = "va.region";

    /// <summary>Set by a session before it migrates away: the silo it must not be placed on again.</summary>
    public const string AvoidSiloKey = "va.avoid-silo";
}
