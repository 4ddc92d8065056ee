namespace VoiceActors.Silo.Hosting;

/// <summary>Names the silo's assembly for hosts that start its entry point in-process (WebApplicationFactory in tests).</summary>
public sealed class SiloEntryPoint;
