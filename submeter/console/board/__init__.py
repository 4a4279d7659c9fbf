"""The room monitoring board (房间监控): tiles per room, a room's page and its control dialogs."""
