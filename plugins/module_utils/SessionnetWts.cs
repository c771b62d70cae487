// Copyright: sessionnet developers
// GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

// User sessions of this host through the WTS API (wtsapi32.dll), for vip_info.ps1: id, user,
// state, the client's IPv4 address (WTSClientAddress) and the virtual IP given to the session by
// RD IP Virtualization (WTSSessionAddressV4). Microsoft documents both address structures with
// the same layout: a DWORD address family, then 20 bytes holding an IPv4 address at offset 2.

using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Runtime.InteropServices;

//TypeAccelerator -Name Sessionnet.WtsSessions -TypeName WtsSessions

namespace ansible_collections.sessionnet.virtual_ip.plugins.module_utils.SessionnetWts
{
    internal static class NativeMethods
    {
        [DllImport("wtsapi32.dll", SetLastError = true)]
        public static extern bool WTSEnumerateSessionsW(
            IntPtr hServer,
            UInt32 Reserved,
            UInt32 Version,
            out IntPtr ppSessionInfo,
            out UInt32 pCount);

        [DllImport("wtsapi32.dll", SetLastError = true)]
        public static extern bool WTSQuerySessionInformationW(
            IntPtr hServer,
            UInt32 SessionId,
            Int32 WTSInfoClass,
            out IntPtr ppBuffer,
            out UInt32 pBytesReturned);

        [DllImport("wtsapi32.dll")]
        public static extern void WTSFreeMemory(IntPtr pMemory);
    }

    [StructLayout(LayoutKind.Sequential, CharSet = CharSet.Unicode)]
    internal struct SessionInfo
    {
        public UInt32 SessionId;
        [MarshalAs(UnmanagedType.LPWStr)] public string WinStationName;
        public Int32 State;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct SessionAddress
    {
        public UInt32 AddressFamily;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 20)] public byte[] Address;
    }

    public class WtsSession
    {
        public UInt32 Id;
        public string User;
        public string State;
        public string ClientAddress;
        public string SessionAddress;
    }

    public static class WtsSessions
    {
        private static readonly IntPtr CurrentServer = IntPtr.Zero;
        private const Int32 InfoUserName = 5;
        private const Int32 InfoDomainName = 7;
        private const Int32 InfoClientAddress = 14;
        private const Int32 InfoSessionAddressV4 = 28;
        private const UInt32 AddressFamilyInet = 2;
        private static readonly string[] StateNames = new string[] {
            "Active", "Connected", "ConnectQuery", "Shadow", "Disconnected",
            "Idle", "Listen", "Reset", "Down", "Init",
        };

        /// <summary>Sessions that have a user, in the order the WTS API lists them.</summary>
        public static List<WtsSession> List()
        {
            IntPtr buffer;
            UInt32 count;
            if (!NativeMethods.WTSEnumerateSessionsW(CurrentServer, 0, 1, out buffer, out count))
                throw new Win32Exception(Marshal.GetLastWin32Error(), "WTSEnumerateSessionsW failed");

            List<WtsSession> sessions = new List<WtsSession>();
            try
            {
                int size = Marshal.SizeOf(typeof(SessionInfo));
                for (int i = 0; i < count; i++)
                {
                    IntPtr entry = new IntPtr(buffer.ToInt64() + (long)i * size);
                    SessionInfo info = (SessionInfo)Marshal.PtrToStructure(entry, typeof(SessionInfo));
                    string user = QueryString(info.SessionId, InfoUserName);
                    if (String.IsNullOrEmpty(user))
                        continue;
                    string domain = QueryString(info.SessionId, InfoDomainName);
                    sessions.Add(new WtsSession()
                    {
                        Id = info.SessionId,
                        User = String.IsNullOrEmpty(domain) ? user : domain + "\\" + user,
                        State = info.State >= 0 && info.State < StateNames.Length
                            ? StateNames[info.State] : info.State.ToString(),
                        ClientAddress = QueryAddress(info.SessionId, InfoClientAddress),
                        SessionAddress = QueryAddress(info.SessionId, InfoSessionAddressV4),
                    });
                }
            }
            finally
            {
                NativeMethods.WTSFreeMemory(buffer);
            }
            return sessions;
        }

        private static string QueryString(UInt32 sessionId, Int32 infoClass)
        {
            IntPtr buffer;
            UInt32 bytes;
            if (!NativeMethods.WTSQuerySessionInformationW(CurrentServer, sessionId, infoClass, out buffer, out bytes))
                return null;
            try
            {
                return Marshal.PtrToStringUni(buffer);
            }
            finally
            {
                NativeMethods.WTSFreeMemory(buffer);
            }
        }

        // An IPv4 address, or null: not IPv4, all zero, or not available (the session has no
        // virtual IP: WTSSessionAddressV4 then fails, for example with ERROR_NOT_SUPPORTED).
        private static string QueryAddress(UInt32 sessionId, Int32 infoClass)
        {
            IntPtr buffer;
            UInt32 bytes;
            if (!NativeMethods.WTSQuerySessionInformationW(CurrentServer, sessionId, infoClass, out buffer, out bytes))
                return null;
            try
            {
                if (bytes < Marshal.SizeOf(typeof(SessionAddress)))
                    return null;
                SessionAddress address = (SessionAddress)Marshal.PtrToStructure(buffer, typeof(SessionAddress));
                if (address.AddressFamily != AddressFamilyInet || address.Address == null)
                    return null;
                byte[] b = address.Address;
                if (b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 0)
                    return null;
                return String.Format("{0}.{1}.{2}.{3}", b[2], b[3], b[4], b[5]);
            }
            finally
            {
                NativeMethods.WTSFreeMemory(buffer);
            }
        }
    }
}
