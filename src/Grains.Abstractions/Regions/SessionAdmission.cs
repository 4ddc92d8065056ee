using VoiceActors.Sessions;

namespace VoiceActors.Regions;

/// <summary>
/// The one way to open an interview, shared by the gateway and the load tester: admission picks the region (or refuses
/// with a typed error), then the session is created on a silo of that region (placement reads the request context).
/// </summary>
public static class SessionAdmission
{
    public static async Task<(RegionAdmission Admission, SessionSnapshot Session)> AdmitAndCreateAsync(
        this IGrainFactory grains, string sessionId, AdmissionRequest request, Func<string, CreateSession> command)
    {
        var admission = await grains.GetGrain<IRegionAdmissionGrain>(0).Admit(request);
        RequestContext.Set(RegionContext.RegionKey, admission.Region);
        try
        {
            return (admission, await grains.GetGrain<IInterviewSessionGrain>(sessionId).Create(command(admission.Region)));
        }
        finally
        {
            RequestContext.Remove(RegionContext.RegionKey);
        }
    }
}
