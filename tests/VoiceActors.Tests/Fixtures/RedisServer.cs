namespace VoiceActors.Tests.Fixtures;

/// <summary>A real redis-server (<see cref="RedisProcess"/>) as an xunit fixture: started before the tests, stopped and deleted after.</summary>
public sealed class RedisServer : RedisProcess, IAsyncLifetime;
