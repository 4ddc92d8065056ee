namespace VoiceActors.Sessions;

/// <summary>The candidate page's slice of a session: it holds the candidate's LiveKit token and no API key.</summary>
[Alias("va.ISessionCandidateGrain")]
public interface ISessionCandidateGrain : IGrainWithStringKey
{
    /// <summary>
    /// Where to connect. Not tenant-scoped: the caller proves it holds this room's candidate token, and any other identity
    /// gets "not found".
    /// </summary>
    [Alias("GetCandidateConnection")]
    Task<CandidateConnection> GetCandidateConnection(string identity);
}
