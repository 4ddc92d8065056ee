namespace VoiceActors.Media;

/// <summary>Live counters of a session's audio path since its grain activated (not persisted: they describe this activation).</summary>
[GenerateSerializer, Immutable, Alias("va.MediaStats")]
public sealed record MediaStats(
    [property: Id(0)] long FramesReceived,
    [property: Id(1)] long FramesToProvider,
    [property: Id(2)] long FramesToClient,
    [property: Id(3)] long FramesDropped,
    [property: Id(4)] bool ProviderConnected);
