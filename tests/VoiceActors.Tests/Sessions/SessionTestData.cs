namespace VoiceActors.Tests.Sessions;

internal static class SessionTestData
{
    public static CreateSession Command(string tenant, string candidate = "cand-1", string job = "job-1") =>
        new(tenant, candidate, job, ProviderSettings.Default, new ConsentFlags(true, true, true), "local");
}
