using Microsoft.Extensions.Options;

namespace VoiceActors.Gateway.Media;

/// <summary>Limits of one candidate media socket (<c>MediaSocket</c>).</summary>
public sealed class MediaSocketOptions
{
    public const string Section = "MediaSocket";

    /// <summary>Provider audio waiting for a slow client; past it the oldest frame is dropped (25 = half a second).</summary>
    public int ClientQueueFrames { get; set; } = 25;

    /// <summary>A client whose socket accepts nothing for this long is gone: the socket is aborted.</summary>
    public TimeSpan ClientSendTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Audio a client may send ahead of real time in one burst, in milliseconds of audio.</summary>
    public int BurstMilliseconds { get; set; } = 1000;

    /// <summary>Malformed messages tolerated (each answered with an error message) before the socket is closed.</summary>
    public int MaxInvalidMessages { get; set; } = 50;
}

public sealed class MediaSocketOptionsValidator : OptionsValidator<MediaSocketOptions>
{
    protected override void Check(string? name, MediaSocketOptions o, List<string> errors)
    {
        if (o.ClientQueueFrames is < 1 or > 500) errors.Add("MediaSocket:ClientQueueFrames must be 1..500: it bounds memory per client.");
        if (o.ClientSendTimeout <= TimeSpan.Zero) errors.Add("MediaSocket:ClientSendTimeout must be positive.");
        if (o.BurstMilliseconds is < 20 or > 10_000) errors.Add("MediaSocket:BurstMilliseconds must be 20..10000.");
        if (o.MaxInvalidMessages < 1) errors.Add("MediaSocket:MaxInvalidMessages must be at least 1.");
    }
}
