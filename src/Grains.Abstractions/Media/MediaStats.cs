namespace VoiceActors.Media;

// Sent, never stored: the records here take implicit ids (the rule: OrleansCodeGeneration.cs).

/// <summary>Live counters of a session's audio path since its grain activated (not persisted: they describe this activation).</summary>
[GenerateSerializer, Immutable, Alias("va.MediaStats")]
public sealed record MediaStats(long FramesReceived, long FramesToProvider, long FramesToClient, long FramesDropped, bool ProviderConnected);
