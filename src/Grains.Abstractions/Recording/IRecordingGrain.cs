namespace VoiceActors.Recording;

/// <summary>
/// Listening back to one interview's recording (key: session id): the whole interview as one Ogg Opus file, read in pieces so
/// the gateway streams it without the file ever being whole in memory or on disk in plaintext.
/// </summary>
[Alias("va.IRecordingGrain")]
public interface IRecordingGrain : IGrainWithStringKey
{
    /// <summary>Checks tenant, consent, end and retention, authenticates the stored objects, and audits the read (or its refusal).</summary>
    [Alias("Open")]
    Task<RecordingFile> Open(string tenantId, string actor);

    /// <summary>Up to <paramref name="count"/> bytes of the served file from <paramref name="offset"/>; call <see cref="Open"/> first.</summary>
    [Alias("Read"), Orleans.Concurrency.AlwaysInterleave] // concurrent range requests of one file must not queue behind each other
    Task<byte[]> Read(string tenantId, long offset, int count);
}

// Sent, never stored: implicit ids (the rule: OrleansCodeGeneration.cs).
[GenerateSerializer, Alias("va.RecordingFileStatus")]
public enum RecordingFileStatus
{
    Ready,
    /// <summary>Unknown, another tenant's, not ended, not consented to, or erased by retention: all read as absent.</summary>
    NotFound,
    /// <summary>A stored object failed authentication (tampered, or sealed under a key we do not hold).</summary>
    Tampered,
    /// <summary>The object store did not answer in time, or failed.</summary>
    StoreUnavailable,
}

[GenerateSerializer, Immutable, Alias("va.RecordingFile")]
public sealed record RecordingFile(
    RecordingFileStatus Status,
    long Length,
    string? Problem = null,
    double DurationSeconds = 0,
    int MissingChunks = 0);

/// <summary>A read that failed after the file was opened (an object changed or the store went away mid-stream).</summary>
[GenerateSerializer, Alias("va.RecordingUnavailableException")]
public sealed class RecordingUnavailableException(string message) : Exception(message);
