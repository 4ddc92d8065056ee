using System.Net.Sockets;

namespace VoiceActors.Tests.Recording;

/// <summary>
/// A loopback TCP relay in front of the real RADOS Gateway that can be made to hang the way a store that times out does:
/// while <see cref="Stalled"/>, it keeps accepting connections and reading what clients send, but forwards nothing and answers
/// nothing, on new connections and on the ones already open (a pooled keep-alive connection hangs too). What it swallowed is
/// kept, so a test can look at what the client tried to store.
/// </summary>
internal sealed class StallingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Uri _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly MemoryStream _swallowed = new();
    private readonly List<TcpClient> _open = [];
    private readonly Task _accepting;
    private volatile bool _stalled;

    public StallingProxy(string upstream)
    {
        _upstream = new Uri(upstream);
        _listener.Start();
        Url = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        _accepting = AcceptAsync();
    }

    public string Url { get; }

    public bool Stalled
    {
        get => _stalled;
        set => _stalled = value;
    }

    /// <summary>Every byte clients sent while the relay was stalled.</summary>
    public byte[] Swallowed()
    {
        lock (_swallowed) return _swallowed.ToArray();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            lock (_open) _open.Add(client);
            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using var upstream = new TcpClient();
        try
        {
            await upstream.ConnectAsync(_upstream.Host, _upstream.Port, _stop.Token);
            var fromClient = PumpAsync(client.GetStream(), upstream.GetStream(), swallowWhenStalled: true);
            var fromStore = PumpAsync(upstream.GetStream(), client.GetStream(), swallowWhenStalled: false);
            await Task.WhenAny(fromClient, fromStore);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            lock (_open) _open.Remove(client);
            client.Dispose();
        }
    }

    /// <summary>Copies one direction; while stalled, the client's bytes are kept instead of sent, the store's are never passed on.</summary>
    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool swallowWhenStalled)
    {
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var n = await from.ReadAsync(buffer, _stop.Token);
            if (n == 0) return;
            if (_stalled)
            {
                if (swallowWhenStalled)
                {
                    lock (_swallowed) _swallowed.Write(buffer, 0, n);
                }
                continue;
            }
            await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_open)
        {
            foreach (var c in _open) c.Dispose();
            _open.Clear();
        }
        await _accepting;
        _stop.Dispose();
    }
}
