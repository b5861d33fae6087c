// Socket.IO 4 as an application would use it for the same job: websocket
// transport only, no per-message compression, one room per guild (every
// socket joins the guild's room on connection), and on POST /broadcast one
// MESSAGE_CREATE (bench/message-create.ts, the same fields Guildhall sends)
// emitted to the room once; Socket.IO encodes it once for all its sockets.
//   node --import tsx bench/socketio-server.ts     (IPC: sends {ev:'listening', port})
import { Server } from 'socket.io';
import { broadcastServer, contentFor, listen, source } from './broadcast-http.js';

const GUILD_ROOM = 'guild:1';

const http = broadcastServer((key) => {
  io.to(GUILD_ROOM).emit('MESSAGE_CREATE', source.next(contentFor(key)));
  return io.engine.clientsCount;
});
const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, httpCompression: false, serveClient: false });
io.on('connection', (socket) => {
  void socket.join(GUILD_ROOM);
});

listen(http, () => {
  io.disconnectSockets(true);
});
