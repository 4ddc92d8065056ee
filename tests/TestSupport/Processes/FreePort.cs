using System.Net;
using System.Net.Sockets;

namespace VoiceActors.TestSupport;

public static class FreePort
{
    // Below Linux's ephemeral range (32768-60999): a port the OS hands out for listen(0) (the SFU, Node) or as the local end of
    // an outgoing connection can never be one we gave a server that has not bound it yet. Each call gets its own port.
    private const int First = 20_000, Last = 32_767;
    private static int _next = First + Environment.ProcessId % (Last - First);

    /// <summary>A TCP port nobody listens on right now and no other caller in this process was given, for servers the tests start.</summary>
    public static int Next()
    {
        for (var attempt = 0; attempt < Last - First; attempt++)
        {
            var port = First + (int)((uint)Interlocked.Increment(ref _next) % (Last - First));
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // taken by someone else: try the next
            }
        }
        throw new InvalidOperationException($"No free TCP port on loopback between {First} and {Last}.");
    }
}
