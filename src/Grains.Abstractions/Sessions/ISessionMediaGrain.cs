namespace VoiceActors.Sessions;

/// <summary>A session's media: candidate audio in, provider audio and transcript out (the gateway's media socket, an RTC bridge, a load tester).</summary>
[Alias("va.ISessionMediaGrain")]
public interface ISessionMediaGrain : IGrainWithStringKey
{
    /// <summary>
    /// Candidate audio on the hot path. Interleaves with the grain's other calls so a frame never waits behind a state write;
    /// it only queues the frame (no I/O). Frames beyond real time (plus a burst) are dropped and counted; a malformed frame is a
    /// <see cref="RequestValidationException"/>.
    /// </summary>
    [Alias("PushCandidateAudio"), Orleans.Concurrency.AlwaysInterleave]
    Task PushCandidateAudio(Media.AudioFrame frame);

    /// <summary>Registers where provider audio and transcript go; one sink per session, the newest wins (a reconnecting client replaces its old socket).</summary>
    [Alias("AttachMedia")]
    Task AttachMedia(Media.IAudioSink sink);

    [Alias("DetachMedia")]
    Task DetachMedia(Media.IAudioSink sink);
}
