namespace Platform.Dashboard; public static class DashboardAssembly;
