namespace VoiceActors.TestSupport;

/// <summary>
/// The one way the tests and the load tester wait for something another process or thread brings about: ask again until
/// it holds or the deadline passes. A condition that throws a transient error (the server is not listening yet, a request
/// timed out) counts as "not yet"; any other exception ends the wait, so a process that died fails at once.
/// </summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(50);

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> failure,
        TimeSpan? interval = null, Func<Exception, bool>? transient = null, CancellationToken ct = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        var isTransient = transient ?? IsTransient;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                if (await condition()) return;
            }
            catch (Exception e) when (!ct.IsCancellationRequested && isTransient(e))
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException(failure(), e);
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException(failure());
            await Task.Delay(interval ?? DefaultInterval, ct);
        }
    }

    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> failure, TimeSpan? interval = null,
        CancellationToken ct = default) =>
        UntilAsync(() => Task.FromResult(condition()), timeout, failure, interval, ct: ct);

    /// <summary>Reads until the value read satisfies <paramref name="done"/>, and returns that value.</summary>
    public static async Task<T> ValueAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan timeout, Func<T?, string> failure,
        TimeSpan? interval = null, Func<Exception, bool>? transient = null, CancellationToken ct = default)
    {
        T? last = default;
        await UntilAsync(async () => done(last = await read()), timeout, () => failure(last), interval, transient, ct);
        return last!;
    }

    /// <summary>Not listening yet, or a request that timed out: ask again.</summary>
    public static bool IsTransient(Exception e) => e is HttpRequestException or TaskCanceledException or IOException
        or System.Net.Sockets.SocketException or StackExchange.Redis.RedisException;
}
