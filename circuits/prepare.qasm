OPENQASM 3.0;
include "stdgates.inc";
gate sxdg _gate_q_0 {
  s _gate_q_0;
  h _gate_q_0;
  s _gate_q_0;
}
gate xx_plus_yy(p0, p1) _gate_q_0, _gate_q_1 {
  rz(p1) _gate_q_0;
  sdg _gate_q_1;
  sx _gate_q_1;
  s _gate_q_1;
  s _gate_q_0;
  cx _gate_q_1, _gate_q_0;
  ry((-0.5)*p0) _gate_q_1;
  ry((-0.5)*p0) _gate_q_0;
  cx _gate_q_1, _gate_q_0;
  sdg _gate_q_0;
  sdg _gate_q_1;
  sxdg _gate_q_1;
  s _gate_q_1;
  rz(-p1) _gate_q_0;
}
gate fswap _gate_q_0, _gate_q_1 {
  swap _gate_q_0, _gate_q_1;
  cz _gate_q_0, _gate_q_1;
}
qubit[2] a;
qubit[2] b;
qubit[4] anc;
ry(2.3353177399045086) a[1];
ry(1.0804884948018998) a[0];
cx a[1], a[0];
ry(-0.3539229678984718) a[0];
cx a[1], a[0];
cx a[0], anc[0];
cx a[1], anc[1];
xx_plus_yy(2.0956276101243794, 0) a[0], a[1];
ry(1.8029505810283846) b[1];
ry(0.713175132005946) b[0];
cx b[1], b[0];
ry(-0.25994459321997054) b[0];
cx b[1], b[0];
cx b[0], anc[2];
cx b[1], anc[3];
xx_plus_yy(2.0956276101243794, 0) b[0], b[1];
fswap a[1], b[0];
z a[1];
xx_plus_yy(3*pi/2, pi/2) a[0], a[1];
z b[1];
xx_plus_yy(3*pi/2, pi/2) b[0], b[1];
