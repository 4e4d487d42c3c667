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
xx_plus_yy(-3*pi/2, pi/2) a[0], a[1];
z a[1];
p(-0.05) a[0];
p(-0.15000000000000002) a[1];
z a[1];
xx_plus_yy(3*pi/2, pi/2) a[0], a[1];
xx_plus_yy(-3*pi/2, pi/2) b[0], b[1];
z b[1];
p(-0.05) b[0];
p(-0.15000000000000002) b[1];
z b[1];
xx_plus_yy(3*pi/2, pi/2) b[0], b[1];
fswap a[1], b[0];
xx_plus_yy(0.2, 0) a[0], a[1];
xx_plus_yy(0.2, 0) b[0], b[1];
fswap a[1], b[0];
