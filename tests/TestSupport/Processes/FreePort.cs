using System.Net;
using System.Net.Sockets;

namespace VoiceActors.TestSupport;

public static class FreePort
{
    /// <summary>A TCP port nobody listens on right now (the OS picks it), for servers the tests start.</summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
